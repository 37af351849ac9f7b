"""Request parsing shared by every API: ids as digit strings and JSON taken at its type.

DRF turns a JSON number sent for a text field into text (``0`` becomes ``"0"``) and a number sent
for a decimal into a decimal, so a request the schema calls invalid would be accepted. Input
serializers derive from ``ApiInputSerializer``, which refuses those instead.
"""

from __future__ import annotations

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


# Fields whose JSON type is a string (decimals travel as strings: floats would round amounts).
_STRING_FIELDS = (serializers.CharField, serializers.DecimalField, serializers.DateTimeField)


class ApiInputSerializer(serializers.Serializer):
    """Base of every request serializer: a field the schema types as a string accepts only a string."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            wrong_type = {
                name: ["Send this field as a JSON string."]
                for name, field in self.fields.items()
                if isinstance(field, _STRING_FIELDS)
                and not field.read_only
                and name in data
                and data[name] is not None
                and not isinstance(data[name], str)
            }
            if wrong_type:
                raise serializers.ValidationError(wrong_type)
        return super().to_internal_value(data)
