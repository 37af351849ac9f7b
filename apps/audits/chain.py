"""The hash chain of the audit store: each link's hash covers its fields and its predecessor's hash.

Hashes are keyed (HMAC-SHA256) so that someone who can write to the audit database but does not
hold the chain key cannot forge a link that verifies. Keys come from a key ring independent of
``SECRET_KEY`` (``PIMLAB_AUDIT_CHAIN_KEYS``: ``id:secret`` pairs, the first signs new links) and
each link stores the id of the key that signed it, so a rotation keeps old links verifiable as long
as their key stays in the ring. Production refuses to start without a ring; the local and test
profiles generate one under ``var/`` on first use (never shared, never derived from a public value).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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
GENERATED_KEYS_FILE = "audit-chain.keys"


@dataclass(frozen=True)
class ChainKeyRing:
    signing_key_id: str
    keys: dict[str, bytes]

    def key(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)


def parse_key_ring(value: str) -> ChainKeyRing:
    """``"k2:secret2,k1:secret1"`` → the ring; the first pair signs, every pair verifies."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id or len(secret) < 16:
            raise ImproperlyConfigured(
                "PIMLAB_AUDIT_CHAIN_KEYS must be comma-separated 'id:secret' pairs with secrets of 16+ characters."
            )
        keys[key_id] = secret.encode()
    if not keys:
        raise ImproperlyConfigured("PIMLAB_AUDIT_CHAIN_KEYS is empty.")
    return ChainKeyRing(signing_key_id=next(iter(keys)), keys=keys)


def chain_key_ring() -> ChainKeyRing:
    return _ring(settings.PIMLAB_AUDIT_CHAIN_KEYS, str(settings.VAR_DIR), settings.PIMLAB_AUDIT_CHAIN_KEYS_REQUIRED)


@lru_cache(maxsize=8)
def _ring(configured: str, var_dir: str, required: bool) -> ChainKeyRing:
    if configured:
        return parse_key_ring(configured)
    if required:
        raise ImproperlyConfigured(
            "Set PIMLAB_AUDIT_CHAIN_KEYS (e.g. 'k1:<32 random characters>'): production never signs the audit "
            "chain with a generated or derived key."
        )
    return parse_key_ring(_generated_ring(Path(var_dir) / GENERATED_KEYS_FILE))


def _generated_ring(path: Path) -> str:
    """A per-checkout random key for the local and test profiles, created once (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(f"local1:{secrets.token_hex(32)}\n")
    return path.read_text().strip()


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def link_payload(fields: dict, *, key_id: str = "") -> bytes:
    canonical = {name: _canonical(fields[name]) for name in LINKED_FIELDS}
    if key_id:
        # Covered by the hash, so a link cannot be re-labelled to another key.
        canonical["key_id"] = key_id
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(*, prev_hash: str, fields: dict, key_id: str, key: bytes) -> str:
    message = prev_hash.encode() + b"\n" + link_payload(fields, key_id=key_id)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def link_sign(*, prev_hash: str, fields: dict, ring: ChainKeyRing | None = None) -> tuple[str, str]:
    """(key id, hash) of a new link, signed with the ring's signing key."""
    ring = ring or chain_key_ring()
    key_id = ring.signing_key_id
    return key_id, link_hash(prev_hash=prev_hash, fields=fields, key_id=key_id, key=ring.keys[key_id])


def record_fields(record) -> dict:
    return {name: getattr(record, name) for name in LINKED_FIELDS}
