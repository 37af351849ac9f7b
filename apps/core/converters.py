"""The URL converter for ids: ``<id:name>`` in every API route that names a resource by id."""

from __future__ import annotations

from .ids import ID_REGEX


class IdConverter:
    """Anything but a 63-bit id (1..2**63-1, digits, no leading zero) matches no route, so the API
    answers a problem+json 404 (``api_errors.api_not_found``) instead of reaching a view, and a
    value the database cannot hold never reaches a query. Views get an int."""

    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)
