"""Request parsing shared by every API: ids as digit strings and JSON taken at its type.

DRF turns a JSON number sent for a text field into text (``0`` becomes ``"0"``) and a number sent
for a decimal into a decimal, so a request the schema calls invalid would be accepted. Input
serializers derive from ``ApiInputSerializer``, which refuses those instead.
"""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import serializers

from .ids import ID_PATTERN


class IdField(serializers.RegexField):
    """An id in a request body: a string of digits (ids are 63-bit; JSON numbers lose precision)."""

    default_error_messages = {"invalid": "Send the id as a string of digits, as the API returns it."}

    def __init__(self, **kwargs):
        super().__init__(ID_PATTERN, **kwargs)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)  # the pattern is checked here, after to_internal_value
        return int(value) if isinstance(value, str) and value else value

    def to_representation(self, value):
        return str(value)


# The JSON type each kind of field accepts (decimals travel as strings: floats would round amounts).
_JSON_TYPES = (
    (serializers.BooleanField, (bool,), "a JSON boolean"),
    ((serializers.CharField, serializers.DecimalField, serializers.DateTimeField), (str,), "a JSON string"),
    (serializers.IntegerField, (int,), "a JSON integer"),
    (serializers.FloatField, (int, float), "a JSON number"),
    (serializers.ListField, (list,), "a JSON array"),
    (serializers.DictField, (dict,), "a JSON object"),
)


def _json_type_error(field, value) -> str | None:
    for kinds, types, name in _JSON_TYPES:
        if isinstance(field, kinds):
            ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
            return None if ok else f"Send this field as {name}."
    return None


class ApiInputSerializer(serializers.Serializer):
    """Base of every request serializer: a JSON body member must have the type the schema gives it.
    (Query parameters are text by nature; they are parsed by the fields as usual.)"""

    def to_internal_value(self, data):
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            wrong_type = {
                name: [message]
                for name, field in self.fields.items()
                if not field.read_only
                and data.get(name) is not None
                and (message := _json_type_error(field, data[name]))
            }
            if wrong_type:
                raise serializers.ValidationError(wrong_type)
        return super().to_internal_value(data)
