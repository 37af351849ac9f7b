"""The event history kept in the shards' outbox tables, as bus envelopes.

The outbox is the system of record for events: Redis streams are trimmed (``MAXLEN``) and lost with
a Redis restart, the outbox rows are not, for ``PIMLAB_OUTBOX_RETENTION_DAYS`` after publication.
A full rebuild of a projection replays this history instead of the bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from django.db.models import Func, TextField

from .models import OutboxEvent, OutboxStatus

# Committed rows that reached the bus or will: dead letters and discarded rows never do.
REPLAYABLE_STATUSES = (OutboxStatus.PUBLISHED, OutboxStatus.PENDING)
_ENVELOPE_FIELDS = ("id", "aggregate_type", "aggregate_id", "event_type", "payload", "headers", "created_at")


def outbox_envelope(row: dict) -> dict:
    """The bus envelope of an outbox row (the relay publishes exactly this)."""
    return {
        "event_id": str(row["id"]),
        "event_type": row["event_type"],
        "aggregate_type": row["aggregate_type"],
        "aggregate_id": str(row["aggregate_id"]),
        "occurred_at": row["created_at"].isoformat(),
        "payload": row["payload"],
        "headers": row["headers"] or {},
    }


class OccurredAt(Func):
    """``created_at`` as the envelope's ``occurred_at`` text (``datetime.isoformat()`` in UTC), formatted by
    the database: the relay's hot path then reads a string instead of building a datetime per row."""

    output_field = TextField()

    def __init__(self, expression="created_at", **extra):
        super().__init__(expression, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        # isoformat() leaves out the fraction when it is zero.
        return self.as_sql(
            compiler,
            connection,
            template=(
                "(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
                "CASE WHEN to_char(%(expressions)s, 'US') = '000000' THEN '' "
                "ELSE to_char(%(expressions)s, '.US') END || '+00:00')"
            ),
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as str() of the UTC datetime: isoformat() with a space for the "T".
        return self.as_sql(compiler, connection, template="(REPLACE(%(expressions)s, ' ', 'T') || '+00:00')", **extra)


@lru_cache(maxsize=256)
def _json_string(value: str) -> str:
    return json.dumps(value)


def outbox_envelope_json(row: dict) -> str:
    """``outbox_envelope(row)`` encoded as JSON, for a row whose payload and headers were read as JSON text
    (``payload_json``, ``headers_json``) and its creation time as ``occurred_at`` text (``OccurredAt()``):
    they go into the envelope as they are, never decoded and re-encoded (the relay's hot path)."""
    headers = row["headers_json"]
    return (
        f'{{"event_id":"{int(row["id"])}","event_type":{_json_string(row["event_type"])},'
        f'"aggregate_type":{_json_string(row["aggregate_type"])},"aggregate_id":"{int(row["aggregate_id"])}",'
        f'"occurred_at":"{row["occurred_at"]}","payload":{row["payload_json"]},'
        f'"headers":{headers if headers and headers != "null" else "{}"}}}'
    )


def outbox_history(
    *, event_types: tuple[str, ...], batch_size: int = 5000, shards: tuple[str, ...] | None = None
) -> Iterator[tuple[str, list[dict]]]:
    """(shard alias, envelopes) batches of every replayable row of ``event_types``, shard by shard
    in id order (the relay's publication order), read by keyset so no batch holds a long snapshot."""
    for alias in shards or tuple(settings.SHARD_ALIASES):
        after = 0
        while True:
            rows = list(
                OutboxEvent.objects.using(alias)
                .filter(id__gt=after, event_type__in=list(event_types), status__in=list(REPLAYABLE_STATUSES))
                .order_by("id")
                .values(*_ENVELOPE_FIELDS)[:batch_size]
            )
            if not rows:
                break
            after = rows[-1]["id"]
            yield alias, [outbox_envelope(row) for row in rows]
