"""The share of the lab's live traffic a running drill touches, measured rather than estimated.

The dry-run estimates a radius from the shard map (patient traffic follows patients); during a run
the lab counts what actually happened: the writes every shard recorded (one outbox event per
use case) since the run started, and the share of them that landed on the drill's shards. The
run's summary keeps the figure beside the declared ``max_traffic_share``, so a drill whose traffic
was more concentrated than its manifest said is visible in its report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError

from apps.outbox.models import OutboxEvent

# Below this many writes a share says little (two bookings are 0 %, 50 % or 100 %).
MIN_WRITES_FOR_A_SHARE = 20


@dataclass(frozen=True)
class TrafficShare:
    declared: float
    measured: float | None  # None: too few writes, or a shard could not be counted
    writes: dict[str, int | None]  # per shard; None where the shard did not answer
    on_targets: int
    total: int
    note: str

    @property
    def above_declared(self) -> bool:
        return self.measured is not None and self.measured > self.declared + 1e-9

    def as_summary(self) -> dict:
        return {**asdict(self), "above_declared": self.above_declared}


def shard_writes_since(alias: str, since: datetime) -> int | None:
    try:
        return OutboxEvent.objects.using(alias).filter(created_at__gte=since).count()
    except DatabaseError:  # the drill may have taken this shard down: say so, do not guess
        return None


def traffic_share_measure(*, target_shards: set[str], declared: float, since: datetime) -> TrafficShare:
    writes = {alias: shard_writes_since(alias, since) for alias in settings.SHARD_ALIASES}
    counted = {alias: n for alias, n in writes.items() if n is not None}
    total = sum(counted.values())
    on_targets = sum(n for alias, n in counted.items() if alias in target_shards)
    if len(counted) < len(writes):
        silent = ", ".join(sorted(set(writes) - set(counted)))
        return TrafficShare(declared, None, writes, on_targets, total, f"not measured: {silent} did not answer")
    if total < MIN_WRITES_FOR_A_SHARE:
        return TrafficShare(
            declared,
            None,
            writes,
            on_targets,
            total,
            f"not measured: {total} writes (fewer than {MIN_WRITES_FOR_A_SHARE})",
        )
    measured = round(on_targets / total, 4)
    note = f"{on_targets} of {total} writes landed on {', '.join(sorted(target_shards)) or 'no shard'}"
    return TrafficShare(declared, measured, writes, on_targets, total, note)
