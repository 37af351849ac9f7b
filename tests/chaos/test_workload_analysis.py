"""Pure logic: how the workload's attempt log becomes RTO, error ratio and the acknowledged ids; how a
multi-host shard URL becomes a DATABASES entry."""

from __future__ import annotations

from apps.chaos.workload import analyse, backoff_seconds
from pimlab_portal.settings.databases import database_config, split_shard_urls


def attempt(start, end, ok, ident=None, port=None):
    record = {"start": start, "end": end, "ok": ok}
    if ok:
        record.update(id=str(ident), port=port)
    return record


def test_rto_is_the_first_write_acknowledged_by_the_new_leader_after_the_fault():
    records = [
        attempt(99.0, 99.1, True, 1, 5410),
        attempt(100.05, 100.1, True, 2, 5410),  # still the old leader (a switchover in progress)
        attempt(100.2, 100.3, False),
        attempt(101.0, 101.1, False),
        attempt(120.0, 120.4, True, 3, 5420),
        attempt(120.5, 120.6, True, 4, 5420),
    ]
    report = analyse(records, fault_at=100.0, leader_port=5420)
    assert report.rto_seconds == 20.4
    assert report.recovered_at == 120.4
    assert report.acknowledged_ids == ["1", "2", "3", "4"]
    assert (report.window_attempts, report.window_errors) == (4, 2)
    assert report.window_error_ratio == 0.5
    assert report.error_ratio == round(2 / 6, 4)
    # Without port information (HTTP workload): the first success after the longest stall.
    http = [{k: v for k, v in r.items() if k != "port"} for r in records]
    assert analyse(http, fault_at=100.0).rto_seconds == 20.4
    # …but only up to the first write that started once the new leader was seen.
    assert analyse(http, fault_at=100.0, settled_at=110.0).recovered_at == 120.4
    assert analyse(http[:4], fault_at=100.0, settled_at=110.0).rto_seconds is None


def test_http_pod_kill_recovery_ignores_a_later_hiccup_and_counts_from_the_kill():
    records = [
        attempt(99.9, 100.02, True, 1),  # committed just before the kill, answered just after
        attempt(100.1, 103.2, False),  # 503 after the app's retry budget
        attempt(103.3, 119.8, False),
        attempt(119.9, 120.5, True, 2),  # replay of the same Idempotency-Key on the new leader
        attempt(120.6, 120.7, True, 3),
        attempt(120.8, 125.0, True, 4),  # a slow answer well after recovery
    ]
    report = analyse(records, fault_at=100.0, settled_at=119.0)
    assert report.rto_seconds == 20.5 and report.acknowledged_ids == ["1", "2", "3", "4"]
    assert (report.window_attempts, report.window_errors) == (4, 2)


def test_no_recovery_means_no_rto():
    records = [attempt(100.2, 100.3, False), attempt(101.0, 101.1, False)]
    report = analyse(records, fault_at=100.0, leader_port=5420)
    assert report.rto_seconds is None and report.acknowledged == 0


def test_backoff_doubles_and_is_bounded():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [0.05, 0.1, 0.2, 0.25, 0.25, 0.25, 0.25]


def test_multi_host_shard_url_becomes_libpq_host_and_port_lists():
    urls = split_shard_urls(
        "postgres://postgres@127.0.0.1:5432/shard0,"
        "postgres://postgres@127.0.0.1:15410,127.0.0.1:15420/ha?target_session_attrs=read-write&connect_timeout=2"
    )
    assert len(urls) == 2
    config = database_config(urls[1], environ={})
    assert config["HOST"] == "127.0.0.1,127.0.0.1" and config["PORT"] == "15410,15420"
    assert config["NAME"] == "ha"
    # Every PostgreSQL connection also carries the server-side timeouts (settings/databases.py).
    assert config["OPTIONS"] == {
        "target_session_attrs": "read-write",
        "connect_timeout": 2,
        "options": "-c statement_timeout=30000 -c lock_timeout=5000",
    }
    assert config["CONN_HEALTH_CHECKS"] is True
    assert database_config(urls[0])["HOST"] == "127.0.0.1"


def test_in_place_restart_counts_recovery_only_after_the_outage_was_seen():
    records = [
        attempt(100.01, 100.02, True, 1, 5410),  # raced the crash and committed
        attempt(100.03, 100.05, False),
        attempt(103.0, 103.6, True, 2, 5410),
    ]
    assert analyse(records, fault_at=100.0, leader_port=5410).rto_seconds == 0.02
    assert analyse(records, fault_at=100.0, leader_port=5410, after_outage=True).rto_seconds == 3.6
    assert analyse(records[:1], fault_at=100.0, leader_port=5410, after_outage=True).rto_seconds is None


def test_lab_refuses_a_busy_port_and_an_unreachable_directory(settings, tmp_path):
    import socket

    import pytest

    from apps.chaos import ha_lab

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ha_lab.HaLabError, match=f"Port {port} is in use"):
            ha_lab._check_ports_free(port)
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    if __import__("os").geteuid() == 0:
        with pytest.raises(ha_lab.HaLabError, match="cannot enter"):
            ha_lab._check_reachable_by_postgres(closed / "lab")


def test_in_place_restart_over_http_ignores_a_write_answered_while_the_first_failures_retry():
    # The app retries a failing booking for ~1.5 s before it answers 503, so when the first failure
    # is logged a write that was in flight at the crash (answered just after it) is already there.
    records = [
        {"start": 99.9, "end": 100.05, "ok": True, "id": "1"},
        {"start": 100.02, "end": 101.9, "ok": False},
    ]
    assert analyse(records, fault_at=100.0, after_outage=True).rto_seconds is None
    records.append({"start": 102.0, "end": 103.1, "ok": True, "id": "2"})
    assert analyse(records, fault_at=100.0, after_outage=True).rto_seconds == 3.1


def test_in_place_restart_the_app_rode_out_counts_the_stall_once_the_restart_was_seen():
    # No booking failed (the app's retries outlasted the restart): the outage is the write stall,
    # measured only once the restarted node was seen running (settled_at).
    records = [
        {"start": 99.9, "end": 100.05, "ok": True, "id": "1"},  # in flight at the crash
        {"start": 100.06, "end": 102.9, "ok": True, "id": "2"},  # retried inside the app until the restart
        {"start": 102.95, "end": 103.0, "ok": True, "id": "3"},
        {"start": 103.05, "end": 103.1, "ok": True, "id": "4"},
    ]
    assert analyse(records[:2], fault_at=100.0, after_outage=True).rto_seconds is None
    assert analyse(records, fault_at=100.0, after_outage=True, settled_at=102.5).rto_seconds == 2.9
