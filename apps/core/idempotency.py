"""The one way a use case takes an Idempotency-Key (docs/ADR/ADR-013-idempotency-key-registry.md).

A key is unique per (caller, key) across the whole lab, not per shard: the registry row
(``IdempotencyKey``) lives in the catalog. A use case wraps its shard write in
``idempotency_key_taken``::

    with idempotency_key_taken(actor=actor, key=key, scope="claim.submit", fingerprint=fp) as use:
        if not use.first:
            return replay(use.entry)          # same caller, key and request: the first answer
        claim = write_on_the_shard(...)        # this request owns the key
        idempotency_key_record(use, shard_alias=alias, resource_type="claim", resource_id=claim.id)

A use case that knows what it will create before it writes (ids are made by the app, so a booking
knows its encounter's id) passes it as ``planned``: the registry row is inserted complete, and
``idempotency_key_record`` with the same values writes nothing more (one statement fewer per
request). Only if the use case ends up answering with something else does it update the row.

The block runs inside ONE catalog transaction that inserted the registry row first
(``INSERT … ON CONFLICT DO NOTHING``). PostgreSQL makes a second request with the same key wait
on that uncommitted row, wherever its shard is, until the first commits (then it reads the row:
replay, or ``IdempotencyKeyReused`` for a different request) or rolls back (then it takes the
key itself). So of two concurrent requests exactly one writes. A shard write that fails raises
out of the block: the catalog transaction rolls back and the key is free for a retry. A process
that dies mid-write drops its connection, which rolls back the same way.

The catalog commits after the shard: if the catalog commit itself fails, the shard row exists
without a registry row. The use case's own per-shard key constraint still finds it on the retry
(and records it here), so the catalog is never less safe than the shard was alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections, transaction
from django.utils import timezone

from .actors import Actor
from .errors import IdempotencyKeyReused
from .models import IdempotencyKey

CATALOG = "default"


def idempotency_caller(actor: Actor) -> str:
    """Who owns a key: the user, or the named system actor."""
    if actor.user_id is not None:
        return f"user:{actor.user_id}"
    return f"system:{actor.display_name or actor.role}"[:80]


@dataclass
class KeyUse:
    """The registry row of this request's key; ``first`` is True when this request took it."""

    entry: IdempotencyKey
    first: bool
    recorded: bool = False


@dataclass(frozen=True)
class PlannedResource:
    """What a first use of a key will create, known before the shard write."""

    shard_alias: str
    resource_type: str
    resource_id: int
    response: dict


@contextmanager
def idempotency_key_taken(
    *, actor: Actor, key: str, scope: str, fingerprint: str, planned: PlannedResource | None = None
) -> Iterator[KeyUse]:
    """Take ``key`` for ``actor`` in the catalog for the duration of the block (see the module doc).

    Raises ``IdempotencyKeyReused`` when the caller already used the key for another scope or
    another request fingerprint. A first use that leaves the block without
    ``idempotency_key_record`` (an error) leaves no registry row."""
    with transaction.atomic(using=CATALOG):
        entry, first = _take(
            caller=idempotency_caller(actor), key=key, scope=scope, fingerprint=fingerprint, planned=planned
        )
        if not first and (entry.scope != scope or entry.request_fingerprint != fingerprint):
            raise IdempotencyKeyReused(
                f"Idempotency-Key {key!r} was already used by you for a different request ({entry.scope}).",
                extra={"idempotency_key_scope": entry.scope},
            )
        use = KeyUse(entry=entry, first=first)
        yield use
        if first and not use.recorded:
            # Nothing was created under the key: free it rather than keep a row with nothing to replay.
            IdempotencyKey.objects.using(CATALOG).filter(pk=entry.pk).delete()


def idempotency_key_record(
    use: KeyUse, *, shard_alias: str, resource_type: str, resource_id: int, response: dict | None = None
) -> None:
    """Say what the first request created under its key (inside the ``idempotency_key_taken`` block)."""
    entry = use.entry
    recorded = (shard_alias, resource_type, resource_id, dict(response or {}))
    planned = (entry.shard_alias, entry.resource_type, entry.resource_id, entry.response)
    entry.shard_alias, entry.resource_type, entry.resource_id, entry.response = recorded
    if use.first and recorded != planned:
        entry.save(using=CATALOG, update_fields=["shard_alias", "resource_type", "resource_id", "response"])
    use.recorded = True


def _take(
    *, caller: str, key: str, scope: str, fingerprint: str, planned: PlannedResource | None
) -> tuple[IdempotencyKey, bool]:
    """Insert the key, or find the caller's earlier use of it. ON CONFLICT DO NOTHING waits for a
    concurrent uncommitted insert of the same (caller, key); under READ COMMITTED the read that
    follows then sees the row that transaction committed. RETURNING spares the read on a new key."""
    candidate = IdempotencyKey(
        caller=caller, key=key, scope=scope, request_fingerprint=fingerprint, created_at=timezone.now()
    )
    if planned is not None:
        candidate.shard_alias = planned.shard_alias
        candidate.resource_type = planned.resource_type
        candidate.resource_id = planned.resource_id
        candidate.response = dict(planned.response)
    meta = IdempotencyKey._meta
    fields = [meta.get_field(name) for name in _INSERTED]
    connection = connections[CATALOG]
    with connection.cursor() as cursor:
        cursor.execute(
            # Table and column names come from the model, values are parameters.
            f"INSERT INTO {connection.ops.quote_name(meta.db_table)} "  # noqa: S608
            f"({', '.join(connection.ops.quote_name(field.column) for field in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            "ON CONFLICT (caller, key) DO NOTHING RETURNING id",
            [field.get_db_prep_save(getattr(candidate, field.attname), connection) for field in fields],
        )
        if cursor.fetchone() is not None:
            candidate._state.adding, candidate._state.db = False, CATALOG
            return candidate, True
    return IdempotencyKey.objects.using(CATALOG).get(caller=caller, key=key), False


_INSERTED = (
    "id",
    "caller",
    "key",
    "scope",
    "request_fingerprint",
    "shard_alias",
    "resource_type",
    "resource_id",
    "response",
    "created_at",
)


@dataclass(frozen=True)
class RecordedKey:
    """A key some use case recorded on a shard before the registry existed (for the backfill)."""

    caller: str
    key: str
    scope: str
    fingerprint: str
    shard_alias: str
    resource_type: str
    resource_id: int
    response: dict


def idempotency_keys_import(keys: list[RecordedKey]) -> int:
    """Register keys the shards already hold (``manage.py idempotency_keys_backfill``). A key the
    registry already has — the same key of one caller found on two shards — keeps the row first
    registered; returns how many keys were added."""
    rows = [
        IdempotencyKey(
            caller=recorded.caller,
            key=recorded.key,
            scope=recorded.scope,
            request_fingerprint=recorded.fingerprint,
            shard_alias=recorded.shard_alias,
            resource_type=recorded.resource_type,
            resource_id=recorded.resource_id,
            response=recorded.response,
        )
        for recorded in keys
    ]
    with transaction.atomic(using=CATALOG):
        before = IdempotencyKey.objects.using(CATALOG).count()
        IdempotencyKey.objects.using(CATALOG).bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        return IdempotencyKey.objects.using(CATALOG).count() - before
