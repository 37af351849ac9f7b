from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.actors import Actor
from apps.core.api_errors import Problem, problem_response
from apps.core.models import PersonaRole
from apps.core.permissions import HasPersonaRole, IsBillingAdmin
from apps.telemetry.spans import participant_span

from .access import claim_read_audit, claim_read_view, line_items_for_view
from .code_sets import diagnosis_codes_problems, procedure_code_problem
from .fhir import claim_as_fhir
from .guardrails import GuardrailViolation
from .links import claim_link, trace_link
from .renderers import FhirJsonRenderer
from .selectors import archived_claim_get, claim_get, claim_line_items, payer_list
from .services import LineItemInput, claim_payment_record, claim_submit

CanReadClaims = HasPersonaRole.of(PersonaRole.BILLING_ADMIN, PersonaRole.OPERATOR)


def _claim_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise Problem(
            status_code=404,
            title="Not found",
            detail=f"{raw!r} is not a claim id.",
            remediation="Use the claim_id returned by POST /api/claims.",
        ) from None


@extend_schema_serializer(component_name="ClaimLineItemInput")
class ClaimLineItemInputSerializer(serializers.Serializer):
    """One line of a claim submission (shared by the submit API and its schema)."""

    procedure_code = serializers.CharField(max_length=5)
    diagnosis_codes = serializers.ListField(child=serializers.CharField(max_length=8), min_length=1, max_length=4)
    units = serializers.IntegerField(min_value=1, max_value=99, default=1)
    unit_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("100000")
    )

    def validate_procedure_code(self, value: str) -> str:
        problem = procedure_code_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_diagnosis_codes(self, value: list[str]) -> list[str]:
        problems = diagnosis_codes_problems(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value


class ClaimSubmitApi(APIView):
    permission_classes = [IsBillingAdmin]

    @extend_schema_serializer(component_name="ClaimSubmitInput")
    class InputSerializer(serializers.Serializer):
        patient_id = serializers.IntegerField(min_value=1)
        encounter_id = serializers.IntegerField(min_value=1)
        payer_code = serializers.CharField(max_length=40)
        currency = serializers.ChoiceField(choices=["USD"], default="USD")
        line_items = ClaimLineItemInputSerializer(many=True, min_length=1, max_length=50)

    @extend_schema_serializer(component_name="ClaimSubmitOutput")
    class OutputSerializer(serializers.Serializer):
        claim_id = serializers.CharField(source="id")
        status = serializers.CharField()
        total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        currency = serializers.CharField()
        retention_class = serializers.CharField()
        trace_id = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        responses={202: OutputSerializer},
    )
    def post(self, request):
        with participant_span("Billing Service API"):
            key = request.headers.get("Idempotency-Key", "").strip()
            if not key or len(key) > 128:
                raise Problem(
                    status_code=400,
                    title="Idempotency-Key required",
                    detail="POST /api/claims needs an Idempotency-Key header (1-128 characters).",
                    remediation="Send a fresh UUID as Idempotency-Key; reuse it only to retry the same claim.",
                    code="idempotency_key_missing",
                )
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            try:
                submission = claim_submit(
                    actor=Actor.from_user(request.user),
                    user=request.user,
                    patient_id=values["patient_id"],
                    encounter_id=values["encounter_id"],
                    payer_code=values["payer_code"],
                    currency=values["currency"],
                    line_items=[
                        LineItemInput(
                            procedure_code=item["procedure_code"],
                            diagnosis_codes=tuple(item["diagnosis_codes"]),
                            units=item["units"],
                            unit_price=item["unit_price"],
                        )
                        for item in values["line_items"]
                    ],
                    idempotency_key=key,
                )
            except GuardrailViolation as violation:
                return problem_response(
                    status_code=status.HTTP_403_FORBIDDEN,
                    title="Guardrail violation",
                    detail=violation.detail,
                    remediation=violation.remediation,
                    headers={"Retry-After": str(violation.retry_after_seconds)}
                    if violation.retry_after_seconds
                    else None,
                    rule=violation.rule,
                )
            claim = submission.claim
            body = dict(self.OutputSerializer(claim).data)
            body["replayed"] = not submission.created
            body["links"] = {"self": claim_link(claim.id), "trace": trace_link(claim.trace_id)}
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": claim_link(claim.id)})


class ClaimDetailApi(APIView):
    """A claim as JSON, or as a FHIR R4B Claim with ``?format=fhir``. Archived claims are shown read-only."""

    permission_classes = [CanReadClaims]
    renderer_classes = [JSONRenderer, FhirJsonRenderer]

    @extend_schema_serializer(component_name="ClaimLineItemOutput")
    class LineItemOutputSerializer(serializers.Serializer):
        sequence = serializers.IntegerField()
        procedure_code = serializers.CharField()
        diagnosis_codes = serializers.ListField(child=serializers.CharField())
        units = serializers.IntegerField()
        unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
        line_total = serializers.DecimalField(max_digits=12, decimal_places=2)

    @extend_schema_serializer(component_name="ClaimDetailOutput")
    class OutputSerializer(serializers.Serializer):
        claim_id = serializers.CharField(source="id")
        patient_id = serializers.CharField()
        encounter_id = serializers.CharField()
        payer_code = serializers.CharField()
        status = serializers.CharField()
        currency = serializers.CharField()
        total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        paid_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
        retention_class = serializers.CharField()
        submitted_at = serializers.DateTimeField()
        paid_at = serializers.DateTimeField(allow_null=True)
        trace_id = serializers.CharField()

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "fhir"], description="fhir: a FHIR R4B Claim")],
        responses={200: OutputSerializer},
    )
    def get(self, request, claim_id: str):
        claim_id = _claim_id(claim_id)
        actor = Actor.from_user(request.user)
        fhir = request.accepted_renderer.format == "fhir"
        view = claim_read_view(actor=actor, fhir=fhir)
        claim = claim_get(claim_id=claim_id)
        if claim is None:
            archived = archived_claim_get(claim_id=claim_id)
            if archived is None:
                raise Problem(
                    status_code=404,
                    title="Not found",
                    detail=f"No claim has id {claim_id}.",
                    remediation="Check the id; purged claims are gone for good.",
                )
            if fhir:
                raise Problem(
                    status_code=410,
                    title="Archived",
                    detail="Archived claims are not served as FHIR resources.",
                    remediation="Read the archived copy as JSON (without format=fhir) or in the Django admin.",
                )
            claim_read_audit(
                actor=actor,
                using=archived._state.db,
                patient_id=archived.patient_id,
                claim_id=claim_id,
                view=view,
                fhir=False,
            )
            return Response(
                {
                    "claim_id": str(archived.claim_id),
                    "archived": True,
                    "status": archived.status,
                    "payer_code": archived.payer_code,
                    "total_amount": str(archived.total_amount),
                    "retention_class": archived.retention_class,
                    "archived_at": archived.archived_at,
                    "purge_after": archived.purge_after,
                    "line_items": line_items_for_view(archived.line_items, view=view),
                }
            )
        line_items = claim_line_items(claim=claim)
        claim_read_audit(
            actor=actor, using=claim._state.db, patient_id=claim.patient_id, claim_id=claim.id, view=view, fhir=fhir
        )
        if fhir:
            return Response(claim_as_fhir(claim, line_items))
        body = dict(self.OutputSerializer(claim).data)
        body["archived"] = False
        body["line_items"] = line_items_for_view(self.LineItemOutputSerializer(line_items, many=True).data, view=view)
        body["links"] = {"self": claim_link(claim.id), "trace": trace_link(claim.trace_id)}
        return Response(body)


class ClaimPaymentApi(APIView):
    permission_classes = [IsBillingAdmin]

    @extend_schema_serializer(component_name="ClaimPaymentInput")
    class InputSerializer(serializers.Serializer):
        paid_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))

    @extend_schema(
        request=InputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request, claim_id: str):
        claim_id = _claim_id(claim_id)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 128:
            raise Problem(
                status_code=400,
                title="Idempotency-Key required",
                detail="Each payment needs its own Idempotency-Key header (1-128 characters).",
                remediation="Send a fresh UUID as Idempotency-Key per payment; reuse it only to retry that payment.",
                code="idempotency_key_missing",
            )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = claim_payment_record(
            actor=Actor.from_user(request.user),
            claim_id=claim_id,
            paid_amount=data.validated_data["paid_amount"],
            idempotency_key=key,
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(result.as_dict(), status=status.HTTP_200_OK, headers=headers)


class PayerListApi(APIView):
    permission_classes = [CanReadClaims]

    @extend_schema_serializer(component_name="PayerOutput")
    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        retention_class = serializers.CharField(source="retention_class_id")

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request):
        return Response(self.OutputSerializer(payer_list(), many=True).data)
