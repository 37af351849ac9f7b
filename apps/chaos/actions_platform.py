"""Faults in the rest of the platform, each paired with the rollback that undoes it.

- event bus outage: freeze the lab's broker (SIGSTOP of its supervised redis-server) / thaw it;
  on the embedded profile (a table bus, no broker process) the bus refuses every call while the
  outage flag is set. The real relay (``outbox_drain``) shows the outbox backing up and draining;
- projection worker kill: SIGKILL the supervised worker / start it again through its supervisor;
  ``projection_staleness`` and ``projection_backlog`` show the lag rising and recovering;
- latency injection on one shard: a trigger that sleeps before writes to one table / drop it;
- stale shard map: point a shard's map entries at an unknown alias / restore them;
- audit store outage: refuse new connections to the audit database / allow them again.

A manifest names components and bounded parameters only; ``apps.chaos.components`` resolves a
component to the lab's own pid file, command and bus (settings). Ceilings of every number are
declared with the activity and checked by the dry-run.
"""

from __future__ import annotations

import os
import signal

from django.conf import settings
from django.db import connections, transaction

from apps.core.metrics import SHARD_MAP_FALLBACK_TOTAL
from apps.core.models import ShardMapEntry
from apps.core.resolver import resolver
from apps.outbox.eventbus import get_event_bus
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.relay import outbox_relay_drain
from apps.projections.selectors import projection_backlog as projection_backlog_read

from . import components
from .registry import ActivityContext, ActivityFailed, action, probe

LATENCY_TRIGGER = "pimlab_chaos_latency"
LATENCY_TABLES = ("encounters_encounter", "patients_patient", "outbox_outboxevent", "audits_auditevent")
MAX_LATENCY_MS = 5000  # a write waits at most 5 s: slow, never a held lock for minutes


def _signal_component(component: str, sig: int) -> dict:
    pid = components.require_pid(component)
    os.kill(pid, sig)
    return {"component": component, "pid": pid, "signal": signal.Signals(sig).name}


@action(
    "eventbus_outage",
    targets=("component",),
    choices={"component": ("eventbus",)},
    requires=("eventbus",),
)
def eventbus_outage(ctx: ActivityContext, component: str = "eventbus") -> dict:
    """Event bus outage: freeze the lab's broker (or refuse the embedded bus); the outbox must back up."""
    ctx.annotate("injection", "Event bus outage")
    if components.uses_redis_bus():
        return _signal_component("eventbus", signal.SIGSTOP)
    components.eventbus_outage_flag().touch()
    return {"component": "eventbus", "embedded": True, "refusing": True}


@action(
    "eventbus_restore",
    targets=("component",),
    choices={"component": ("eventbus",)},
    requires=("eventbus",),
)
def eventbus_restore(ctx: ActivityContext, component: str = "eventbus") -> dict:
    """Rollback of eventbus_outage: thaw the broker (SIGCONT) or lift the embedded bus's outage."""
    if components.uses_redis_bus():
        return _signal_component("eventbus", signal.SIGCONT)
    components.eventbus_outage_flag().unlink(missing_ok=True)
    return {"component": "eventbus", "embedded": True, "refusing": False}


@probe("outbox_pending")
def outbox_pending(ctx: ActivityContext, shard: str) -> int:
    """Outbox rows still waiting on one shard."""
    return OutboxEvent.objects.using(shard).filter(status=OutboxStatus.PENDING).count()


@action("outbox_drain", targets=("shard",))
def outbox_drain(ctx: ActivityContext, shard: str) -> dict:
    """Run the outbox relay on one shard now (the real ``outbox_relay_drain``, the lab's bus); reports what is left."""
    published = outbox_relay_drain(shard_alias=shard, bus=get_event_bus())
    rows = OutboxEvent.objects.using(shard)
    return {
        "shard": shard,
        "published": published,
        "pending": rows.filter(status=OutboxStatus.PENDING).count(),
        "dead": rows.filter(status=OutboxStatus.DEAD).count(),
    }


@probe("projection_staleness")
def projection_staleness(ctx: ActivityContext) -> float:
    """``claim_projection_staleness``: age in seconds of the oldest claim event the projection has not applied."""
    return projection_backlog_read(bus=get_event_bus()).staleness_seconds


@probe("projection_backlog")
def projection_backlog(ctx: ActivityContext) -> int:
    """Events waiting for the projection worker (delivered but unacknowledged + not yet delivered)."""
    return projection_backlog_read(bus=get_event_bus()).total


@probe("outbox_dead")
def outbox_dead(ctx: ActivityContext, shard: str) -> int:
    """Outbox rows in the dead-letter state on one shard."""
    return OutboxEvent.objects.using(shard).filter(status=OutboxStatus.DEAD).count()


@action(
    "process_kill",
    targets=("component",),
    choices={"component": ("projection_worker",)},
    requires=("supervised",),
)
def process_kill(ctx: ActivityContext, component: str) -> dict:
    """Projection worker kill: SIGKILL the lab's supervised process of ``component``."""
    ctx.annotate("injection", f"SIGKILL of the {component}")
    return _signal_component(component, signal.SIGKILL)


@action(
    "process_start",
    targets=("component",),
    choices={"component": ("projection_worker",)},
    requires=("supervised",),
)
def process_start(ctx: ActivityContext, component: str) -> dict:
    """Rollback of process_kill: the lab starts its own command for ``component`` again (its supervisor
    does, under ``make run``), inside the lab's process tree."""
    return {"component": component, "pid": components.component_start(component)}


@action(
    "shard_latency_inject",
    targets=("shard",),
    limits={"delay_ms": MAX_LATENCY_MS},
    choices={"table": LATENCY_TABLES},
    requires=("postgresql_shard",),
)
def shard_latency_inject(ctx: ActivityContext, shard: str, table: str = "encounters_encounter", delay_ms: int = 200):
    """Latency on one shard only: every write to ``table`` there sleeps ``delay_ms`` first (a trigger)."""
    if table not in LATENCY_TABLES:
        raise ActivityFailed(f"Latency can be injected on {sorted(LATENCY_TABLES)}, not {table!r}.")
    connection = connections[shard]
    if connection.vendor != "postgresql":
        raise ActivityFailed("Latency injection needs a PostgreSQL shard.")
    seconds = min(max(0, int(delay_ms)), MAX_LATENCY_MS) / 1000
    with transaction.atomic(using=shard), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {LATENCY_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$"
        )
        cursor.execute(f"DROP TRIGGER IF EXISTS {LATENCY_TRIGGER} ON {table}")
        cursor.execute(
            f"CREATE TRIGGER {LATENCY_TRIGGER} BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {LATENCY_TRIGGER}()"
        )
    ctx.annotate("injection", f"{delay_ms} ms write latency on {shard}.{table}")
    return {"shard": shard, "table": table, "delay_ms": delay_ms}


@action("shard_latency_remove", targets=("shard",), choices={"table": LATENCY_TABLES}, requires=("postgresql_shard",))
def shard_latency_remove(ctx: ActivityContext, shard: str, table: str = "encounters_encounter") -> dict:
    """Rollback of shard_latency_inject."""
    if table not in LATENCY_TABLES:
        raise ActivityFailed(f"Unknown table {table!r}.")
    with transaction.atomic(using=shard), connections[shard].cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {LATENCY_TRIGGER} ON {table}")
    return {"shard": shard, "table": table, "removed": True}


@probe("shard_latency_injected", choices={"table": LATENCY_TABLES}, requires=("postgresql_shard",))
def shard_latency_injected(ctx: ActivityContext, shard: str, table: str = "encounters_encounter") -> bool:
    """True while the latency trigger exists on the shard's table."""
    with connections[shard].cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass", [LATENCY_TRIGGER, table]
        )
        return cursor.fetchone() is not None


@action("shard_map_stale", targets=("shard",))
def shard_map_stale(ctx: ActivityContext, shard: str) -> dict:
    """Stale shard map: point every entry of ``shard`` at an alias no process knows."""
    entries = list(ShardMapEntry.objects.using("default").filter(shard_alias=shard))
    if not entries:
        raise ActivityFailed(f"The shard map has no entries for {shard}.")
    ctx.state["shard_map_saved"] = [{"id": e.id, "shard_alias": e.shard_alias} for e in entries]
    with transaction.atomic(using="default"):
        for entry in entries:
            entry.shard_alias = f"{shard}_retired"
            entry.note = "stale (chaos drill)"
            entry.save(using="default", update_fields=["shard_alias", "note", "updated_at"])
    resolver.invalidate()
    ctx.annotate("injection", f"Shard map entries of {shard} made stale")
    return {"shard": shard, "entries": len(entries)}


@action("shard_map_restore", targets=("shard",))
def shard_map_restore(ctx: ActivityContext, shard: str) -> dict:
    """Rollback of shard_map_stale: put the saved aliases back."""
    saved = ctx.state.get("shard_map_saved") or []
    with transaction.atomic(using="default"):
        restored = 0
        for item in saved:
            restored += (
                ShardMapEntry.objects.using("default")
                .filter(id=item["id"])
                .update(shard_alias=item["shard_alias"], note="")
            )
        if not saved:
            restored = (
                ShardMapEntry.objects.using("default").filter(shard_alias=f"{shard}_retired").update(shard_alias=shard)
            )
    resolver.invalidate()
    ctx.state.pop("shard_map_saved", None)
    return {"shard": shard, "restored": restored}


@probe("shard_map_fallbacks")
def shard_map_fallbacks(ctx: ActivityContext) -> float:
    """Total shard resolutions served from the remembered map (shard_map_fallback_total)."""
    return sum(
        sample.value
        for metric in SHARD_MAP_FALLBACK_TOTAL.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def _audit_database() -> str:
    db = settings.DATABASES["audit"]
    if "postgresql" not in db["ENGINE"]:
        raise ActivityFailed("The audit store outage drill needs the audit store on PostgreSQL.")
    return db["NAME"]


def _on_maintenance_db(sql: str, params: list) -> None:
    """Run a statement from a connection to the catalog (the audit database cannot alter itself while closed)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(sql, params)


@action(
    "audit_store_outage",
    targets=("component",),
    choices={"component": ("audit_store",)},
    requires=("postgresql_audit",),
)
def audit_store_outage(ctx: ActivityContext, component: str = "audit_store") -> dict:
    """Audit store outage: refuse new connections to the audit database and end the open ones."""
    name = _audit_database()
    connections["audit"].close()
    quoted = connections["default"].ops.quote_name(name)
    _on_maintenance_db(f"ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS false", [])
    _on_maintenance_db(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
    )
    ctx.annotate("injection", "Audit store outage")
    return {"database": name, "allow_connections": False}


@action(
    "audit_store_restore",
    targets=("component",),
    choices={"component": ("audit_store",)},
    requires=("postgresql_audit",),
)
def audit_store_restore(ctx: ActivityContext, component: str = "audit_store") -> dict:
    """Rollback of audit_store_outage."""
    name = _audit_database()
    quoted = connections["default"].ops.quote_name(name)
    _on_maintenance_db(f"ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS true", [])
    return {"database": name, "allow_connections": True}


@probe("audit_store_reachable", requires=("postgresql_audit",))
def audit_store_reachable(ctx: ActivityContext) -> bool:
    """True when a fresh connection to the audit store answers."""
    from django.db import DatabaseError

    connections["audit"].close()
    try:
        with connections["audit"].cursor() as cursor:
            cursor.execute("SELECT 1")
            return True
    except DatabaseError:
        return False
    finally:
        connections["audit"].close()


@probe("shard_resolve", limits={"bucket": 1023})
def shard_resolve(ctx: ActivityContext, bucket: int) -> str:
    """The shard alias the resolver answers for a logical bucket (current map, or remembered on fallback)."""
    resolver.invalidate()
    return resolver.shard_for_bucket(int(bucket))
