"""The hash chain of the audit store: each link's hash covers its fields and its predecessor's hash.

Hashes are keyed (HMAC-SHA256) so that someone who can write to the audit database but does not
hold ``PIMLAB_AUDIT_CHAIN_KEY`` cannot forge a link that verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from django.conf import settings

GENESIS_HASH = "0" * 64

LINKED_FIELDS = (
    "shard_alias",
    "sequence",
    "source_event_id",
    "patient_id",
    "occurred_at",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "actor_user_id",
    "actor_role",
    "request_id",
    "trace_id",
    "detail",
)


def chain_key() -> bytes:
    return settings.PIMLAB_AUDIT_CHAIN_KEY.encode()


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def link_payload(fields: dict) -> bytes:
    canonical = {name: _canonical(fields[name]) for name in LINKED_FIELDS}
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(*, prev_hash: str, fields: dict, key: bytes | None = None) -> str:
    message = prev_hash.encode() + b"\n" + link_payload(fields)
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


def record_fields(record) -> dict:
    return {name: getattr(record, name) for name in LINKED_FIELDS}
