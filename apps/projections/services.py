"""Applying events to the financial read models, incrementally or by replaying the whole history.

``read_models_apply`` takes a batch of parsed events and, in ONE catalog transaction under a
projection lock: skips event ids already applied, merges the rest into the facts (order does not
matter: every field has a single source and the status only moves forward), and moves each changed
fact's contribution between the daily aggregate rows."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from django.db import DatabaseError, connections, transaction
from django.db.models import Lookup, Q
from django.utils import timezone

from apps.outbox.eventbus import EventBus
from apps.outbox.events import EventType
from apps.slo.services import alert_event_record

from .backlog import BACKLOG_ALERT_NAME, ProjectionBacklog, backlog_alert_threshold, projection_backlog_measure
from .errors import RebuildRefused
from .events import (
    EVENT_TYPES,
    PROJECTION_NAME,
    MalformedEvent,
    ProjectedEvent,
    parse_envelope,
)
from .metrics import PROJECTION_BACKLOG_ALERT
from .models import (
    ClaimFact,
    ClaimFactStatus,
    EncounterFact,
    FinancialDailyAggregate,
    ProcessedEvent,
    ProjectionCheckpoint,
)
from .selectors import read_models_snapshot

logger = structlog.get_logger(__name__)

# pg_advisory_xact_lock key: one writer of the financial read models at a time.
_PROJECTION_LOCK_KEY = 0x46494E50524F4A  # "FINPROJ"
_STATUS_RANK = {ClaimFactStatus.SUBMITTED: 0, ClaimFactStatus.PAID: 1}
_FACT_FIELDS = [
    "encounter_id",
    "payer_code",
    "status",
    "currency",
    "total_amount",
    "paid_amount",
    "submitted_at",
    "submitted_day",
    "paid_at",
    "encounter_start",
    "submission_lag_seconds",
]


@dataclass
class ApplyResult:
    applied: list[ProjectedEvent] = field(default_factory=list)
    duplicates: int = 0
    applied_at: datetime | None = None
    # When the KPI (aggregate) update of this batch began, for the "Financial Dashboard" span.
    kpi_update_started_ns: int | None = None


def _lock_projection() -> None:
    connection = connections["default"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PROJECTION_LOCK_KEY])
    # SQLite serialises writers itself (IMMEDIATE transactions).


def read_models_apply(events: list[ProjectedEvent]) -> ApplyResult:
    """Apply a batch exactly once per event id. Safe to call again with any of the same events."""
    with transaction.atomic(using="default"):
        _lock_projection()
        return _apply_locked(events)


class _AnyOf(Lookup):
    """``column = ANY(%s)``: the values travel as one array parameter. ``__in`` compiles and quotes one
    placeholder per value, which for a batch's hundreds of ids cost more than running the query."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, self.rhs)


for _field in (
    ProcessedEvent._meta.get_field("event_id"),
    EncounterFact._meta.get_field("encounter_id"),
    ClaimFact._meta.get_field("claim_id"),
    ClaimFact._meta.get_field("encounter_id"),
):
    _field.register_lookup(_AnyOf)


def _one_of(field: str, values: list) -> Q:
    """``field`` is one of ``values``: as an array parameter on PostgreSQL, ``IN (…)`` elsewhere."""
    if connections["default"].vendor == "postgresql":
        return Q(**{f"{field}__any_of": values})
    return Q(**{f"{field}__in": values})


def _contribution(fact: ClaimFact) -> tuple[tuple, tuple] | None:
    if fact.submitted_at is None or fact.total_amount is None:
        return None  # only ClaimSubmitted says which day and payer a claim counts for
    key = (fact.submitted_day, fact.payer_code, fact.status)
    lag = fact.submission_lag_seconds
    values = (
        1,
        fact.total_amount,
        fact.paid_amount or Decimal("0"),
        lag if lag is not None else 0,
        1 if lag is not None else 0,
    )
    return key, values


def _apply_locked(events: list[ProjectedEvent]) -> ApplyResult:
    result = ApplyResult(applied_at=timezone.now())
    unique: dict[str, ProjectedEvent] = {}
    for event in events:
        if event.event_id in unique:
            result.duplicates += 1
        else:
            unique[event.event_id] = event
    processed = ProcessedEvent.objects.using("default").filter(_one_of("event_id", list(unique)))
    seen = set(processed.values_list("event_id", flat=True))
    fresh = [event for event_id, event in unique.items() if event_id not in seen]
    result.duplicates += len(unique) - len(fresh)
    if not fresh:
        return result
    _processed_events_insert(fresh, applied_at=result.applied_at)

    encounter_events = [e for e in fresh if e.event_type == EventType.ENCOUNTER_CREATED]
    claim_events = [e for e in fresh if e.event_type in (EventType.CLAIM_SUBMITTED, EventType.CLAIM_PAID)]
    encounter_ids = {e.payload["encounter_id"] for e in encounter_events} | {
        e.payload["encounter_id"] for e in claim_events if e.event_type == EventType.CLAIM_SUBMITTED
    }
    claim_ids = {e.payload["claim_id"] for e in claim_events}

    encounters = {
        fact.encounter_id: fact
        for fact in EncounterFact.objects.using("default").filter(_one_of("encounter_id", list(encounter_ids)))
    }
    facts: dict[int, ClaimFact] = {
        fact.claim_id: fact for fact in ClaimFact.objects.using("default").filter(_one_of("claim_id", list(claim_ids)))
    }
    newly_booked = {e.payload["encounter_id"] for e in encounter_events} - set(encounters)
    if newly_booked:
        # Claims that arrived before their encounter wait for its start time to know their lag.
        for fact in ClaimFact.objects.using("default").filter(_one_of("encounter_id", list(newly_booked))):
            facts.setdefault(fact.claim_id, fact)
    before = {claim_id: _contribution(fact) for claim_id, fact in facts.items()}
    snapshot = {claim_id: [getattr(fact, name) for name in _FACT_FIELDS] for claim_id, fact in facts.items()}

    new_encounters = []
    for event in encounter_events:
        encounter_id = event.payload["encounter_id"]
        if encounter_id in encounters:
            continue
        encounters[encounter_id] = EncounterFact(
            encounter_id=encounter_id,
            patient_id=event.payload["patient_id"],
            encounter_type=event.payload["encounter_type"],
            requested_start=event.payload["requested_start"],
            booked_at=event.occurred_at,
            booked_day=event.occurred_at.astimezone(UTC).date(),
        )
        new_encounters.append(encounters[encounter_id])

    created: dict[int, ClaimFact] = {}
    for event in claim_events:
        claim_id = event.payload["claim_id"]
        fact = facts.get(claim_id)
        if fact is None:
            fact = facts[claim_id] = created[claim_id] = _claim_fact_new(claim_id)
        if event.event_type == EventType.CLAIM_SUBMITTED:
            fact.encounter_id = event.payload["encounter_id"]
            fact.payer_code = event.payload["payer_code"]
            fact.currency = event.payload["currency"]
            fact.total_amount = event.payload["total_amount"]
            fact.submitted_at = event.payload["submitted_at"]
            fact.submitted_day = event.payload["submitted_at"].astimezone(UTC).date()
        else:
            fact.paid_amount = event.payload["paid_amount"]
            fact.paid_at = event.payload["paid_at"]
            if _STATUS_RANK[ClaimFactStatus.PAID] > _STATUS_RANK[ClaimFactStatus(fact.status)]:
                fact.status = ClaimFactStatus.PAID

    deltas: dict[tuple, list] = defaultdict(lambda: [0, Decimal("0"), Decimal("0"), 0, 0])
    changed: list[ClaimFact] = []
    for claim_id, fact in facts.items():
        encounter = encounters.get(fact.encounter_id) if fact.encounter_id is not None else None
        if encounter is not None and fact.encounter_start is None:
            fact.encounter_start = encounter.requested_start
        if fact.encounter_start is not None and fact.submitted_at is not None:
            fact.submission_lag_seconds = int((fact.submitted_at - fact.encounter_start).total_seconds())
        if claim_id not in created and [getattr(fact, name) for name in _FACT_FIELDS] != snapshot[claim_id]:
            changed.append(fact)
        old, new = before.get(claim_id), _contribution(fact)
        if old == new:
            continue
        for contribution, sign in ((old, -1), (new, 1)):
            if contribution is None:
                continue
            key, values = contribution
            delta = deltas[key]
            for index, value in enumerate(values):
                delta[index] += sign * value

    if new_encounters:
        _rows_insert(EncounterFact, new_encounters)
    if changed:
        # Replace rather than bulk_update: Django's CASE-per-field UPDATE costs seconds per thousand rows,
        # a DELETE by key plus a multi-row INSERT milliseconds. Both run in this one transaction.
        ClaimFact.objects.using("default").filter(_one_of("claim_id", [fact.claim_id for fact in changed])).delete()
    if created or changed:
        _rows_insert(ClaimFact, [*created.values(), *changed])
    result.kpi_update_started_ns = time.time_ns()
    _aggregates_apply(deltas)
    _checkpoint_advance(fresh, applied_at=result.applied_at)
    result.applied = fresh
    return result


_CLAIM_FACT_DEFAULTS = [field.get_default() for field in ClaimFact._meta.concrete_fields]
_CLAIM_ID_POSITION = [field.attname for field in ClaimFact._meta.concrete_fields].index("claim_id")


def _claim_fact_new(claim_id: int) -> ClaimFact:
    """A claim fact with every field at its default. Positional values take Model.__init__'s fast
    path, half the cost of keyword arguments, once per new claim."""
    values = list(_CLAIM_FACT_DEFAULTS)
    values[_CLAIM_ID_POSITION] = claim_id
    return ClaimFact(*values)


def _rows_insert(model, objects: list) -> None:
    """Insert new rows of a read model in the current transaction. On PostgreSQL through COPY: the
    batch streams as rows, where ``bulk_create`` quotes one array literal per column client-side, which
    cost the worker more than the rest of the batch. Elsewhere (embedded SQLite) through ``bulk_create``."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        model.objects.using("default").bulk_create(objects, batch_size=2000)
        return
    fields = model._meta.concrete_fields
    # Values are already the column's Python types (parsed events, loaded facts); only columns filled on
    # insert (auto_now_add) need their field's pre_save, as bulk_create would call it.
    filled = [field for field in fields if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False)]

    def values(instance):
        for filled_field in filled:
            filled_field.pre_save(instance, True)
        return [getattr(instance, name) for name in names]

    names = [model_field.attname for model_field in fields]
    _copy_rows(model, names, map(values, objects))


def _processed_events_insert(events: list[ProjectedEvent], *, applied_at: datetime) -> None:
    """Record the batch's event ids. On PostgreSQL the rows go to COPY as plain tuples: a model instance
    per event only to read its attributes back cost more than writing the row."""
    if connections["default"].vendor != "postgresql":
        _rows_insert(
            ProcessedEvent,
            [ProcessedEvent(event_id=e.event_id, event_type=e.event_type, occurred_at=e.occurred_at) for e in events],
        )
        return
    _copy_rows(
        ProcessedEvent,
        ["event_id", "event_type", "occurred_at", "applied_at"],
        ((event.event_id, event.event_type, event.occurred_at, applied_at) for event in events),
    )


def _copy_rows(model, field_names: list[str], rows) -> None:
    """COPY ``rows`` (value sequences in the order of ``field_names``) into ``model``'s table (PostgreSQL)."""
    connection = connections["default"]
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in field_names)
    # wrap_database_errors: the raw cursor's errors reach callers as Django's, like every other query's.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _aggregates_apply(deltas: dict[tuple, list]) -> None:
    deltas = {key: delta for key, delta in deltas.items() if any(delta)}
    if not deltas:
        return
    days = {key[0] for key in deltas}
    payers = {key[1] for key in deltas}
    rows = {
        (row.day, row.payer_code, row.status): row
        for row in FinancialDailyAggregate.objects.using("default").filter(day__in=days, payer_code__in=payers)
    }
    to_create, to_update, to_delete = [], [], []
    for key, (count, total, paid, lag_sum, lag_count) in deltas.items():
        row = rows.get(key)
        if row is None:
            row = FinancialDailyAggregate(day=key[0], payer_code=key[1], status=key[2])
            to_create.append(row)
        elif row.pk is not None:
            to_update.append(row)
        row.claim_count += count
        row.total_amount += total
        row.paid_amount += paid
        row.lag_seconds_sum += lag_sum
        row.lag_count += lag_count
        if row.claim_count == 0 and row.pk is not None:
            # An empty bucket is deleted so the incremental result and a rebuild hold the same rows.
            to_delete.append(row.pk)
    to_create = [row for row in to_create if row.claim_count != 0]
    to_update = [row for row in to_update if row.pk not in to_delete]
    manager = FinancialDailyAggregate.objects.using("default")
    if to_delete:
        manager.filter(pk__in=to_delete).delete()
    if to_update:
        _aggregate_rows_update(to_update)
    if to_create:
        manager.bulk_create(to_create)


_AGGREGATE_SUMS = ("claim_count", "total_amount", "paid_amount", "lag_seconds_sum", "lag_count")


def _aggregate_rows_update(rows: list[FinancialDailyAggregate]) -> None:
    """Write the sums of changed aggregate rows. On PostgreSQL one UPDATE … FROM (VALUES …): Django's
    bulk_update builds a CASE per field and row, which cost more to compile than to run."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        FinancialDailyAggregate.objects.using("default").bulk_update(rows, list(_AGGREGATE_SUMS))
        return
    quote = connection.ops.quote_name
    fields = [FinancialDailyAggregate._meta.pk, *(FinancialDailyAggregate._meta.get_field(n) for n in _AGGREGATE_SUMS)]
    row_sql = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in fields) + ")"
    columns = [quote(field.column) for field in fields]
    # Identifiers only from the model's meta, quoted; every value is a parameter.
    statement = (
        f"UPDATE {quote(FinancialDailyAggregate._meta.db_table)} AS live "  # noqa: S608
        f"SET {', '.join(f'{column} = sums.{column}' for column in columns[1:])} "
        f"FROM (VALUES {', '.join([row_sql] * len(rows))}) AS sums ({', '.join(columns)}) "
        f"WHERE live.{columns[0]} = sums.{columns[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [getattr(row, field.attname) for row in rows for field in fields])


def _checkpoint_advance(events: list[ProjectedEvent], *, applied_at: datetime) -> None:
    """Count the batch and move the newest applied event forward, in one upsert (no read first)."""
    newest = max(events, key=lambda event: event.occurred_at)
    connection = connections["default"]
    meta = ProjectionCheckpoint._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    name, count, last_id, last_at, applied, rebuilt, alert = (
        quote(meta.get_field(field).column)
        for field in (
            "name",
            "events_applied",
            "last_event_id",
            "last_event_occurred_at",
            "last_applied_at",
            "last_rebuilt_at",
            "backlog_alert_firing",
        )
    )
    newer = f"({table}.{last_at} IS NULL OR EXCLUDED.{last_at} >= {table}.{last_at})"
    # Identifiers only from the model's meta, quoted; every value is a parameter.
    statement = (
        f"INSERT INTO {table} ({name}, {count}, {last_id}, {last_at}, {applied}, {rebuilt}, {alert}) "  # noqa: S608
        f"VALUES (%s, %s, %s, %s, %s, NULL, %s) ON CONFLICT ({name}) DO UPDATE SET "
        f"{count} = {table}.{count} + EXCLUDED.{count}, "
        f"{last_id} = CASE WHEN {newer} THEN EXCLUDED.{last_id} ELSE {table}.{last_id} END, "
        f"{last_at} = CASE WHEN {newer} THEN EXCLUDED.{last_at} ELSE {table}.{last_at} END, "
        f"{applied} = EXCLUDED.{applied}"
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [PROJECTION_NAME, len(events), newest.event_id, adapt(newest.occurred_at), adapt(applied_at), False],
        )


# --- Rebuild ------------------------------------------------------------------------------------------

# The read models a rebuild replaces: built in a shadow schema, then swapped in (PostgreSQL).
_READ_MODELS = (FinancialDailyAggregate, ClaimFact, EncounterFact, ProcessedEvent)
_SHADOW_SCHEMA = "pimlab_projection_rebuild"
# How long the swap may wait for readers of the live tables before the rebuild gives up (and rolls back).
_SWAP_LOCK_TIMEOUT = "15s"


@dataclass
class RebuildResult:
    events_read: int = 0
    events_applied: int = 0
    malformed: int = 0
    per_shard: dict[str, int] = field(default_factory=dict)
    replaced_events: int = 0  # events the replaced read models had applied
    oldest_event_at: datetime | None = None


def read_models_rebuild(
    *,
    batch_size: int = 5000,
    allow_empty: bool = False,
    history: Iterable[tuple[str, list[dict]]] | None = None,
) -> RebuildResult:
    """Replay the full event history into NEW read models beside the live ones, then swap them in.

    The history is the shards' outbox rows (``apps.outbox.history``), not the bus: a Redis restart or
    stream trimming loses nothing a rebuild needs. ``history`` replaces it (the bench replays the bus).

    On PostgreSQL the new read models are built in the schema ``pimlab_projection_rebuild`` (the
    connection's search_path puts it first, so the projection code writes there unchanged) and moved
    into the live schema in place of the old tables at the end of the one catalog transaction:
    readers see the old read models until the commit, then the new ones. Any failure rolls the whole
    transaction back, shadow schema included: the old read models stay. A replay that applies no
    event while the live read models hold some raises ``RebuildRefused`` (unless ``allow_empty``).

    Holds the projection lock throughout, so the live worker waits, then applies to the new read
    models whatever the replay has not (event ids already applied are skipped)."""
    if history is None:
        from apps.outbox.history import outbox_history

        history = outbox_history(event_types=EVENT_TYPES, batch_size=batch_size)
    result = RebuildResult()
    with transaction.atomic(using="default"):
        _lock_projection()
        result.replaced_events = ProcessedEvent.objects.using("default").count()
        swap = _shadow_read_models_create()
        checkpoint, _ = ProjectionCheckpoint.objects.using("default").get_or_create(name=PROJECTION_NAME)
        checkpoint.events_applied = 0
        checkpoint.last_event_id = ""
        checkpoint.last_event_occurred_at = None
        checkpoint.save(using="default")
        for shard, envelopes in history:
            result.events_read += len(envelopes)
            result.per_shard[shard] = result.per_shard.get(shard, 0) + len(envelopes)
            parsed = list(_parse_all(envelopes, result))
            if parsed:
                oldest = min(event.occurred_at for event in parsed)
                if result.oldest_event_at is None or oldest < result.oldest_event_at:
                    result.oldest_event_at = oldest
                try:
                    result.events_applied += len(_apply_locked(parsed).applied)
                except DatabaseError as exc:
                    logger.error(
                        "projection_rebuild_failed",
                        shard_id=shard,
                        first_event_id=parsed[0].event_id,
                        last_event_id=parsed[-1].event_id,
                        error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    )
                    raise
        if result.events_applied == 0 and result.replaced_events and not allow_empty:
            raise RebuildRefused(
                f"The replay of {result.events_read} outbox events applied none, and the live read models "
                f"hold {result.replaced_events} events."
            )
        swap()
        ProjectionCheckpoint.objects.using("default").filter(name=PROJECTION_NAME).update(
            last_rebuilt_at=timezone.now()
        )
    logger.info(
        "projection_rebuilt",
        events_read=result.events_read,
        events_applied=result.events_applied,
        malformed=result.malformed,
        replaced_events=result.replaced_events,
    )
    return result


def _shadow_read_models_create():
    """Empty read-model tables for the replay to write; returns the function that swaps them in.

    PostgreSQL: tables in the shadow schema, first on the (transaction-local) search_path. Other
    databases (the embedded SQLite profile): the live tables are emptied inside the rebuild's
    transaction, which SQLite readers do not see before the commit."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        for model in _READ_MODELS:
            model.objects.using("default").all().delete()
        return lambda: None
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema(), current_setting('search_path')")
        live_schema, search_path = cursor.fetchone()
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(_SHADOW_SCHEMA)} CASCADE")
        cursor.execute(f"CREATE SCHEMA {quote(_SHADOW_SCHEMA)}")
        cursor.execute(f"SET LOCAL search_path TO {quote(_SHADOW_SCHEMA)}, {search_path}")
    # Same DDL as the migrations (names of indexes and constraints included), in the shadow schema.
    with connection.schema_editor(atomic=False) as editor:
        for model in _READ_MODELS:
            editor.create_model(model)

    def swap() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{_SWAP_LOCK_TIMEOUT}'")
            for model in _READ_MODELS:
                table = quote(model._meta.db_table)
                cursor.execute(f"DROP TABLE {quote(live_schema)}.{table}")
                cursor.execute(f"ALTER TABLE {quote(_SHADOW_SCHEMA)}.{table} SET SCHEMA {quote(live_schema)}")
            cursor.execute(f"DROP SCHEMA {quote(_SHADOW_SCHEMA)}")
            cursor.execute(f"SET LOCAL search_path TO {search_path}")

    return swap


def _parse_all(envelopes: list[dict], result: RebuildResult) -> Iterable[ProjectedEvent]:
    for envelope in envelopes:
        try:
            yield parse_envelope(envelope)
        except MalformedEvent:
            result.malformed += 1


class _ReplayRolledBack(Exception):
    pass


def read_models_replay_snapshot(*, history: Iterable[tuple[str, list[dict]]] | None = None) -> dict:
    """The read models a full replay of the outbox history would produce, as ``read_models_snapshot``
    values. The replay runs in a transaction that is always rolled back: nothing changes."""
    replayed: dict = {}
    try:
        with transaction.atomic(using="default"):
            read_models_rebuild(allow_empty=True, history=history)
            replayed = read_models_snapshot()
            raise _ReplayRolledBack
    except _ReplayRolledBack:
        pass
    return replayed


# --- backlog alert ---------------------------------------------------------------------------------


def projection_backlog_check(*, bus: EventBus, now: datetime | None = None) -> ProjectionBacklog:
    """Measure the backlog, then raise the backlog alert when it crosses the threshold (or resolve
    it when it falls back): one alert event per transition, remembered on the checkpoint."""
    backlog = projection_backlog_measure(bus=bus, now=now)
    projection_backlog_alert_update(backlog=backlog)
    return backlog


def projection_backlog_alert_update(*, backlog: ProjectionBacklog) -> bool:
    """Record a firing/resolved alert event if the alert state changes; True when it changed."""
    firing = backlog.total > backlog_alert_threshold()
    PROJECTION_BACKLOG_ALERT.labels(projection=PROJECTION_NAME).set(1 if firing else 0)
    with transaction.atomic(using="default"):
        checkpoint, _ = (
            ProjectionCheckpoint.objects.using("default").select_for_update().get_or_create(name=PROJECTION_NAME)
        )
        if checkpoint.backlog_alert_firing == firing:
            return False
        checkpoint.backlog_alert_firing = firing
        checkpoint.save(using="default", update_fields=["backlog_alert_firing"])
        alert_event_record(
            name=BACKLOG_ALERT_NAME,
            severity="ticket",
            status="firing" if firing else "resolved",
            labels={"projection": PROJECTION_NAME, "service": "projection-worker"},
            annotations={
                "summary": f"Projection backlog {backlog.total} events (threshold {backlog_alert_threshold()}).",
                "staleness_seconds": f"{backlog.staleness_seconds:.1f}",
                "runbook": "docs/runbooks/18_projection-backlog.md",
            },
        )
    logger.warning(
        "projection_backlog_alert",
        status="firing" if firing else "resolved",
        backlog=backlog.total,
        staleness_seconds=round(backlog.staleness_seconds, 1),
    )
    return True
