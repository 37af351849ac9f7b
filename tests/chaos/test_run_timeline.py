"""Pure logic: the run report's timeline from what a failover drill records (journal and summary),
with every entry's time relative to the fault; Patroni's timeline history as the promotion moment."""

from __future__ import annotations

from datetime import UTC, datetime

from apps.chaos.ha_lab import promotion_moment
from apps.chaos.selectors import run_timeline

FAULT = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC).timestamp()


def iso(offset: float) -> str:
    return datetime.fromtimestamp(FAULT + offset, tz=UTC).isoformat()


def step(name: str, action: str, start: float, output=None) -> dict:
    return {
        "activity": {"name": name, "type": "action", "action": action},
        "status": "succeeded",
        "start": iso(start),
        "end": iso(start + 0.5),
        "output": output,
    }


def failover_journal() -> dict:
    return {
        "annotations": [
            {"phase": "start", "text": "Chaos run 7 started", "at": iso(-10)},
            {"phase": "injection", "text": "Pod kill of HA leader pg-a", "at": iso(0.02)},
            {"phase": "recovery", "text": "First write after pod_kill: RTO 9.30 s", "at": iso(9.5)},
        ],
        "run": [
            step("start workload", "workload_start", -8),
            step("kill the leader", "ha_pod_kill", 0, {"node": "pg-a", "killed_at": FAULT}),
            step("measure recovery", "ha_measure_recovery", 0.1),
        ],
        "rollbacks": [
            step("rejoin", "ha_rejoin", 20, {"restarted": ["pg-a"], "sync_standby": "pg-a", "leader": "pg-b"})
        ],
    }


def by_kind(timeline: list[dict]) -> dict[str, dict]:
    return {e["kind"]: e for e in timeline}


def test_failover_timeline_has_leader_lost_promoted_and_first_write_relative_to_the_fault():
    summary = {
        "fault": "pod_kill",
        "old_leader": "pg-a",
        "new_leader": "pg-b",
        "leader_lost_at": FAULT,
        "promoted_at": FAULT + 6.25,
        "first_write_at": FAULT + 9.3,
        "rto_seconds": 9.3,
    }
    timeline = run_timeline(journal=failover_journal(), summary=summary)
    kinds = [e["kind"] for e in timeline]
    assert kinds.index("leader lost") < kinds.index("injection") < kinds.index("promoted") < kinds.index("first write")
    entries = by_kind(timeline)
    assert entries["leader lost"]["offset_seconds"] == 0.0
    assert entries["leader lost"]["text"] == "Leader pg-a lost (pod_kill)"
    assert entries["promoted"]["offset_seconds"] == 6.25
    assert entries["promoted"]["text"] == "pg-b promoted"
    assert entries["first write"]["offset_seconds"] == 9.3
    assert entries["start"]["offset_seconds"] == -10.0
    assert entries["rollback"]["offset_seconds"] == 20.0
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)


def test_leader_lost_comes_from_the_kill_step_when_the_summary_predates_it():
    """Runs recorded before the summary held the moment: the kill step's own output tells it."""
    timeline = run_timeline(journal=failover_journal(), summary={"rto_seconds": 9.3})
    entries = by_kind(timeline)
    assert entries["leader lost"]["text"] == "Leader pg-a lost"
    assert entries["leader lost"]["offset_seconds"] == 0.0
    assert entries["first write"]["offset_seconds"] == 9.3
    assert "promoted" not in entries  # not recorded, so not invented


def test_a_drill_without_a_leader_counts_from_its_injection():
    journal = {
        "annotations": [
            {"phase": "start", "text": "started", "at": iso(-2)},
            {"phase": "injection", "text": "Event bus outage", "at": iso(0)},
        ],
        "run": [step("stop the bus", "process_kill", -0.001)],
    }
    timeline = run_timeline(journal=journal, summary={})
    assert {e["kind"] for e in timeline} == {"start", "injection", "step"}
    assert by_kind(timeline)["start"]["offset_seconds"] == -2.0
    assert run_timeline(journal={"annotations": journal["annotations"][:1]}, summary={})[0]["offset_seconds"] is None


def test_promotion_moment_is_the_first_switch_to_the_new_leader_after_the_fault():
    history = [
        [1, 25165984, "no recovery target specified", "2026-03-02T09:00:00.000000+00:00", "pg-a"],
        [2, 33554592, "no recovery target specified", "2026-03-02T10:00:06.250000+00:00", "pg-b"],
        [3, 41943200, "no recovery target specified", "2026-03-02T10:05:00+00:00", "pg-a"],
    ]
    assert promotion_moment(history, name="pg-b", since=FAULT) == FAULT + 6.25
    assert promotion_moment(history, name="pg-a", since=FAULT) == FAULT + 300
    assert promotion_moment([row[:4] for row in history], name="pg-b", since=FAULT) == FAULT + 6.25
    assert promotion_moment(history, name="pg-b", since=FAULT + 10) is None
    assert promotion_moment({"error": "no history"}, name="pg-b", since=FAULT) is None


def test_the_rejoin_rollback_ends_the_timeline_as_rejoined():
    timeline = run_timeline(journal=failover_journal(), summary={"leader_lost_at": FAULT, "old_leader": "pg-a"})
    rejoined = by_kind(timeline)["rejoined"]
    assert rejoined["offset_seconds"] == 20.5 and rejoined["text"] == "pg-a rejoined; sync standby pg-a"
    assert timeline[-1]["kind"] == "rejoined"
