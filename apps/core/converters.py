"""Ids at the API edge: one pattern, one URL converter, one serializer field.

Ids are positive 63-bit integers (``apps.core.ids``). JSON carries them as strings of digits
(63-bit values overflow JavaScript numbers), URLs as digits; inside the code they are ints.
"""

from __future__ import annotations

from rest_framework import serializers

from .ids import ID_PATTERN, ID_REGEX


class IdConverter:
    """``<id:name>``: anything but a 63-bit id matches no route, so the API answers a problem+json
    404 (``api_errors.api_not_found``) instead of reaching a view; views get an int."""

    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


class IdField(serializers.RegexField):
    """An id in a request body: a string of digits (a JSON number is refused), validated as an int."""

    default_error_messages = {"invalid": "Send the id as a string of digits, as the API returns it."}

    def __init__(self, **kwargs):
        super().__init__(ID_PATTERN, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)  # the pattern is checked here, after to_internal_value
        return int(value) if isinstance(value, str) and value else value

    def to_representation(self, value):
        return str(value)


class StrictCharField(serializers.CharField):
    """A text field that refuses JSON numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
