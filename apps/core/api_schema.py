"""OpenAPI generation: every operation documents the problem+json errors it can answer.

``ProblemAutoSchema`` adds, to each operation, the errors the platform can give it (400 when it
reads a body or query parameters, 401/403 when it needs a persona, 404 when its path names a
resource, 406 for an unsatisfiable Accept, 415 for a body in another media type, 503 when a
database or the shard map does not answer) and the domain errors its view declares with
``@raises(...)``; all of them point at the one ``Problem`` component."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .api_errors import PROBLEM_CONTENT_TYPE
from .errors import DomainError


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details with the lab's ``remediation`` and ``code`` members. Some errors add
    members (``errors`` per field, ``current_version``, ``missing``, ``rule``, ``dependency``)."""

    type = serializers.CharField(help_text="A URI naming the problem type; about:blank when only `code` does.")
    title = serializers.CharField()
    status = serializers.IntegerField(min_value=400, max_value=599)
    detail = serializers.CharField()
    remediation = serializers.CharField(help_text="What to change before sending the request again.")
    code = serializers.CharField(help_text="Machine-readable reason, stable across wording changes.")
    errors = serializers.DictField(required=False, help_text="Messages per request field.")

    class Meta:
        ref_name = "Problem"


_PLATFORM_ERRORS = {
    400: "The request has invalid fields or parameters (see `errors`).",
    401: "No valid persona token was sent.",
    403: "The persona's role may not call this operation.",
    404: "No such resource, or it is not visible to this persona.",
    406: "The Accept header asks for a media type this operation cannot produce.",
    415: "The body is not in a supported media type.",
    503: "A database or the shard map did not answer; nothing was written. Retry after Retry-After.",
}


def raises(*errors: type[DomainError]) -> Callable:
    """Declare the domain errors a view method can raise, so the schema documents them."""

    def mark(method):
        method.domain_errors = (*getattr(method, "domain_errors", ()), *errors)
        return method

    return mark


class ProblemAutoSchema(AutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        problem_ref = self.resolve_serializer(ProblemSerializer(), "response").ref
        for status, description in sorted(self._problem_statuses(operation).items()):
            content = {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}}
            if str(status) in responses:
                responses[str(status)].setdefault("content", {}).update(content)
            else:
                responses[str(status)] = {"description": description, "content": content}
        return operation

    def _problem_statuses(self, operation: dict) -> dict[int, str]:
        statuses = {503: _PLATFORM_ERRORS[503], 406: _PLATFORM_ERRORS[406]}
        if operation.get("requestBody"):
            statuses[400] = _PLATFORM_ERRORS[400]
            statuses[415] = _PLATFORM_ERRORS[415]
        parameters = operation.get("parameters", [])
        if any(p.get("in") == "query" for p in parameters):
            statuses[400] = _PLATFORM_ERRORS[400]
        if any(p.get("in") == "path" for p in parameters):
            statuses[404] = _PLATFORM_ERRORS[404]
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            statuses[401] = _PLATFORM_ERRORS[401]
            statuses[403] = _PLATFORM_ERRORS[403]
        handler = getattr(self.view, self.method.lower(), None)
        for error in getattr(handler, "domain_errors", ()):
            titles = statuses.get(error.status)
            statuses[error.status] = f"{titles} {error.title}." if titles else f"{error.title}."
        return statuses

    def get_serializer_name(self, serializer, direction) -> str:
        """Nested ``InputSerializer``/``OutputSerializer`` classes are named after their view:
        ``EncounterBookApi.InputSerializer`` is the ``EncounterBookInput`` component."""
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if not outer:
            return super().get_serializer_name(serializer, direction)
        return outer.rpartition(".")[2].removesuffix("Api") + inner.removesuffix("Serializer")

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        # Object-level rules a field list cannot express (e.g. "send at least one of ...").
        schema.update(getattr(serializer, "json_schema_extra", {}))
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or schema.get("type") != "string":
            return schema
        if isinstance(field, serializers.DecimalField) and "pattern" in schema:
            # The server needs at least one digit (and no sign when negatives are refused).
            sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
            whole = field.max_digits - field.decimal_places
            schema["pattern"] = rf"^{sign}\d{{1,{whole}}}(?:\.\d{{1,{field.decimal_places}}})?$"
        elif (
            type(field) in (serializers.CharField, serializers.SlugField)
            and field.trim_whitespace
            and not field.allow_blank
            and "pattern" not in schema
        ):
            schema["pattern"] = r"\S"  # whitespace only is trimmed to "" and refused
        return schema


# The header of every create that may be retried (booking, claim submission): 1–128 characters.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"\S"},
    OpenApiParameter.HEADER,
    required=True,
    description="A fresh value (e.g. a UUID) per request; repeat it only to retry the very same request.",
)


class PersonaTokenScheme(OpenApiAuthenticationExtension):
    """The persona token in the schema (knox's class has no scheme of its own in drf-spectacular)."""

    target_class = "apps.core.authentication.PersonaTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Persona token with the prefix "Token" (issued by `python manage.py persona_tokens`).',
        }
