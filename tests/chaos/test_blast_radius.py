"""Drills cannot escape their blast radius (issue 13): each unsafe manifest of the security review is
rejected at dry-run with the field and the rule; pid files are checked before a signal; the
duration is a hard stop; rollbacks are bounded; the dry-run knows the profile's capabilities;
unparseable YAML is refused with its line and column."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from rest_framework.test import APIClient

from apps.chaos import components, dry_run, services
from apps.chaos.activities import get_activity
from apps.chaos.models import Experiment, RevisionStatus, RunStatus
from apps.chaos.registry import ActivityContext, ActivityFailed, action
from apps.chaos.runner import run_execute
from apps.core.models import PersonaRole
from tests.factories import persona_user

from .conftest import approved_run, small_manifest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

COMPONENT_RADIUS = {
    "targets": [
        {"kind": "component", "name": "projection_worker"},
        {"kind": "component", "name": "eventbus"},
        {"kind": "shard", "name": "shard_1"},
    ],
    "max_patient_share": 0.5,
    "max_traffic_share": 0.5,
    "max_delayed_share": 1.0,
}
HA_RADIUS = {
    "targets": [{"kind": "ha_cluster", "name": "pimlab-ha"}],
    "max_patient_share": 0.5,
    "max_traffic_share": 0.5,
}


def step(name, activity, kind="action", **arguments):
    return {"name": name, "type": kind, kind: activity, "arguments": arguments}


def errors_of(manifest: dict) -> dict[str, list[str]]:
    revision = services.experiment_submit(
        key="api/unsafe", manifest_text=yaml.safe_dump(manifest, sort_keys=False), author="sre-author"
    )
    report = services.revision_dry_run(revision=revision)
    revision.refresh_from_db()
    assert not report["ok"] and revision.status == RevisionStatus.REJECTED
    return {c["check"]: c["errors"] for c in report["checks"] if not c["ok"]}


@pytest.mark.parametrize(
    ("changes", "check", "fragments"),
    [
        # process_start ran any argv/env and wrote any log/pid file, as the worker's user.
        (
            {
                "blast_radius": COMPONENT_RADIUS,
                "rollbacks": [
                    step(
                        "start",
                        "process_start",
                        argv=["/bin/sh", "-c", "id > /tmp/owned"],
                        env={"LD_PRELOAD": "/tmp/x.so"},
                        pidfile="/var/run/postgresql/postmaster.pid",
                        log_file="/etc/cron.d/owned",
                    )
                ],
            },
            "activities",
            ["rollbacks[0].arguments.argv", "rollbacks[0].arguments.env", "rollbacks[0].arguments.log_file"],
        ),
        # process_kill / eventbus_outage signalled whatever pid a given file named.
        (
            {
                "blast_radius": COMPONENT_RADIUS,
                "method": [step("kill", "process_kill", pidfile="/var/run/postgresql/14-main.pid")],
            },
            "activities",
            ["method[0].arguments.pidfile: process_kill takes no argument 'pidfile'"],
        ),
        (
            {"blast_radius": COMPONENT_RADIUS, "method": [step("freeze", "eventbus_outage", pidfile="/run/x.pid")]},
            "activities",
            ["method[0].arguments.pidfile"],
        ),
        # A foreign event bus: real events published elsewhere and marked published.
        (
            {"method": [step("drain", "outbox_drain", shard="shard_1", eventbus_url="redis://evil.example:6379/0")]},
            "activities",
            ["method[0].arguments.eventbus_url: outbox_drain takes no argument"],
        ),
        (
            {
                "steady_state_hypothesis": {
                    "title": "t",
                    "probes": [
                        {
                            "name": "stale",
                            "probe": "projection_staleness",
                            "arguments": {"eventbus_url": "redis://evil.example/0"},
                            "tolerance": 0,
                        }
                    ],
                }
            },
            "activities",
            ["steady_state_hypothesis.probes[0].arguments.eventbus_url"],
        ),
        # Persona tokens sent to any host; a shard outside the radius.
        (
            {"blast_radius": HA_RADIUS, "method": [step("load", "workload_start", base_url="https://evil.example")]},
            "activities",
            ["method[0].arguments.base_url: workload_start takes no argument"],
        ),
        (
            {"blast_radius": HA_RADIUS, "method": [step("load", "workload_start", shard_index=0)]},
            "activities",
            ["method[0].arguments.shard_index"],
        ),
        # Unbounded numbers: a pause that pins a worker, latency that holds locks for minutes.
        (
            {"rollbacks": [step("wait", "pause", seconds=10**7)]},
            "activities",
            ["rollbacks[0].arguments.seconds: 10000000 is outside 0–600"],
        ),
        (
            {"method": [step("slow", "shard_latency_inject", shard="shard_1", delay_ms=3_600_000)]},
            "activities",
            ["method[0].arguments.delay_ms: 3600000 is outside 0–5000"],
        ),
        (
            {"method": [step("slow", "shard_latency_inject", shard="shard_1", table="pg_authid")]},
            "activities",
            ["method[0].arguments.table: 'pg_authid' is not one of"],
        ),
        # duration_seconds is the hard stop: waits and the abort condition must fit in it.
        (
            {"duration_seconds": 30, "method": [step("hold", "pause", seconds=25), step("more", "pause", seconds=25)]},
            "blast_radius",
            ["duration_seconds: the method's fixed waits (50 s) exceed duration_seconds 30"],
        ),
        (
            {"duration_seconds": 30, "abort_conditions": {"max_duration_seconds": 600}},
            "blast_radius",
            ["abort_conditions.max_duration_seconds: 600 is above duration_seconds 30"],
        ),
        # A component the radius does not list.
        (
            {
                "blast_radius": {**COMPONENT_RADIUS, "targets": [{"kind": "component", "name": "eventbus"}]},
                "method": [step("kill", "process_kill", component="projection_worker")],
            },
            "targets",
            ["method[0].arguments.component: 'kill' acts on 'projection_worker'"],
        ),
        # A component outage delays every patient's asynchronous work: the radius must declare it.
        (
            {"blast_radius": {k: v for k, v in COMPONENT_RADIUS.items() if k != "max_delayed_share"}},
            "blast_radius",
            ["blast_radius.max_delayed_share: the component target(s) eventbus, projection_worker delay", "100%"],
        ),
        (
            {"blast_radius": {**COMPONENT_RADIUS, "max_delayed_share": 0.5}},
            "blast_radius",
            ["declare max_delayed_share: 1 (declared 0.5)"],
        ),
        (
            {"method": [step("drain", "outbox_drain", shard="shard_0")]},
            "targets",
            ["method[0].arguments.shard: 'drain' names shard 'shard_0', outside the blast radius"],
        ),
    ],
)
def test_each_unsafe_manifest_of_the_review_is_rejected_at_dry_run_naming_field_and_rule(changes, check, fragments):
    errors = errors_of(small_manifest(**changes))
    assert check in errors, errors
    for fragment in fragments:
        assert any(fragment in error for error in errors[check]), (fragment, errors)


def test_the_schema_refuses_a_manifest_url_in_the_configuration():
    errors = errors_of(small_manifest(configuration={"app_base_url": "https://evil.example"}))
    assert any("configuration" in e and "app_base_url" in e for e in errors["schema"]), errors


def test_a_pid_file_naming_another_process_is_never_signalled_nor_echoed(settings, tmp_path):
    """The lab's pid file replaced by one naming another process (the database, say): refused."""
    settings.PIMLAB_RUN_DIR = str(tmp_path)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "postgres"])
    try:
        (tmp_path / "projection_worker.pid").write_text(f"{bystander.pid}\nsecret-line-2\n")
        kill = get_activity("action", "process_kill").function
        with pytest.raises(ActivityFailed) as refused:
            kill(ActivityContext(), component="projection_worker")
        assert "No live supervised projection_worker" in str(refused.value)
        assert str(bystander.pid) not in str(refused.value) and "secret" not in str(refused.value)
        time.sleep(0.2)
        assert bystander.poll() is None  # untouched
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


def test_duration_seconds_is_a_hard_stop_and_the_rollbacks_still_run():
    @action("test_long_step")
    def long_step(ctx, seconds: float = 60):
        ctx.sleep(seconds)
        return {"slept": seconds}

    started = time.monotonic()
    run = run_execute(
        run=approved_run(
            key="api/hard-stop",
            duration_seconds=2,
            method=[{"name": "long", "type": "action", "action": "test_long_step", "arguments": {"seconds": 60}}],
        )
    )
    assert time.monotonic() - started < 20
    assert run.status == RunStatus.ABORTED
    assert run.abort_reason == "duration_seconds 2 reached (hard stop)"
    assert [e["status"] for e in run.journal["rollbacks"]] == ["succeeded"]


def test_a_rollback_that_hangs_is_stopped_by_its_own_timeout_and_the_next_one_runs(settings):
    settings.PIMLAB_CHAOS_ROLLBACK_TIMEOUT_SECONDS = 1

    @action("test_hanging_rollback")
    def hanging(ctx, seconds: float = 600):
        ctx.sleep(seconds)

    started = time.monotonic()
    run = run_execute(
        run=approved_run(
            key="api/hanging-rollback",
            rollbacks=[
                {"name": "hangs", "type": "action", "action": "test_hanging_rollback", "arguments": {"seconds": 600}},
                {"name": "after it", "type": "action", "action": "pause", "arguments": {"seconds": 0}},
            ],
        )
    )
    assert time.monotonic() - started < 20  # never pins the worker
    assert [e["status"] for e in run.journal["rollbacks"]] == ["failed", "succeeded"]
    assert "rollback timeout (1 s)" in run.journal["rollbacks"][0]["exception"][0]
    assert run.status == RunStatus.FAILED and run.summary["rollbacks"] == "failed"


def test_dry_run_refuses_what_the_profile_cannot_run_with_what_it_needs(settings, tmp_path, monkeypatch):
    settings.PIMLAB_RUN_DIR = str(tmp_path)  # no supervised projection worker here
    settings.PIMLAB_HA_DIR = str(tmp_path / "no-ha-lab")
    errors = errors_of(
        small_manifest(
            blast_radius=COMPONENT_RADIUS,
            method=[step("kill", "process_kill", component="projection_worker")],
            rollbacks=[step("start", "process_start", component="projection_worker")],
        )
    )
    assert any(
        "needs process supervision of projection_worker" in e and "lab_supervise projection_worker" in e
        for e in errors["capabilities"]
    ), errors
    errors = errors_of(small_manifest(blast_radius=HA_RADIUS, method=[step("kill", "ha_pod_kill")]))
    assert any("needs the HA pair (run `python manage.py lab_ha up`)" in e for e in errors["capabilities"]), errors

    # The embedded profile's SQLite shard: the latency drill (a PostgreSQL trigger) is refused up front.
    class SqliteConnection:
        vendor = "sqlite"

    monkeypatch.setattr(dry_run, "connections", {"shard_1": SqliteConnection(), "audit": SqliteConnection()})
    errors = errors_of(
        small_manifest(method=[step("slow", "shard_latency_inject", shard="shard_1", delay_ms=50)], rollbacks=[])
    )
    assert any("needs a PostgreSQL shard (shard_1 is sqlite" in e for e in errors["capabilities"]), errors


def test_garbage_yaml_through_the_api_is_refused_with_line_and_column_and_nothing_is_stored():
    _, token = persona_user(PersonaRole.SRE, username="sre-author")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    garbage = "title: ok\nblast_radius: [unclosed\nmethod: {\n"
    response = client.post("/api/chaos/experiments/submit", {"name": "garbage", "manifest": garbage})
    assert response.status_code == 400, response.content
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["line"] == 3 and body["column"] >= 1
    assert f"line {body['line']}, column {body['column']}" in body["detail"] and body["remediation"]
    assert not Experiment.objects.filter(key="api/garbage").exists()


def test_the_embedded_bus_refuses_calls_during_the_outage_and_the_relay_drains_after(settings, tmp_path):
    """The bus outage runs without servers: the embedded bus refuses while the lab's flag is set."""
    from apps.outbox.embedded_bus import DatabaseEventBus
    from apps.outbox.eventbus import EventBusUnavailable

    settings.PIMLAB_RUN_DIR = str(tmp_path)
    settings.PIMLAB_EVENTBUS_URL = ""
    bus = DatabaseEventBus()
    event = {"event_id": "e-1", "event_type": "DrillProbe", "payload": {}}
    outage, restore = (get_activity("action", name).function for name in ("eventbus_outage", "eventbus_restore"))
    assert outage(ActivityContext(), component="eventbus") == {
        "component": "eventbus",
        "embedded": True,
        "refusing": True,
    }
    try:
        with pytest.raises(EventBusUnavailable):
            bus.publish_batch([event])
        assert bus.ping() is False
    finally:
        restore(ActivityContext(), component="eventbus")
    assert bus.publish_batch([event]) and bus.ping() is True


def test_supervised_component_restarts_inside_the_supervisor_and_stops_with_it(tmp_path, settings):
    """`lab_supervise` (a Procfile process) owns the component: a drill's kill and restart stay in its
    tree, and stopping the supervisor (as stopping `make run` does) stops what the drill restarted."""
    run_dir = tmp_path / "run"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="pimlab_portal.settings.test",
        PIMLAB_RUN_DIR=str(run_dir),
        PIMLAB_LOG_LEVEL="WARNING",
        PYTHONPATH=str(settings.BASE_DIR),
    )
    # A stand-in for the worker (the settings' command runs the real one): its argv carries the marker.
    script = tmp_path / "projections_worker.py"
    script.write_text("import time\nwhile True:\n    time.sleep(1)\n")
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, django; from django.conf import settings; django.setup(); "
            f"settings.PIMLAB_CHAOS_COMPONENT_COMMANDS = {{'projection_worker': [sys.executable, {str(script)!r}]}}; "
            "from django.core.management import call_command; call_command('lab_supervise', 'projection_worker')",
        ],
        env=env,
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    from django.test import override_settings

    try:
        with override_settings(PIMLAB_RUN_DIR=str(run_dir)):
            deadline = time.monotonic() + 60
            while components.component_pid("projection_worker") is None and time.monotonic() < deadline:
                time.sleep(0.2)
            first = components.component_pid("projection_worker")
            assert first is not None
            kill, start = (get_activity("action", name).function for name in ("process_kill", "process_start"))
            kill(ActivityContext(), component="projection_worker")
            deadline = time.monotonic() + 10
            while components.component_pid("projection_worker") is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            restarted = start(ActivityContext(), component="projection_worker")["pid"]
            assert restarted != first
            assert os.getpgid(restarted) == os.getpgid(supervisor.pid)  # the supervisor's tree, not ours
            assert supervisor.poll() is None
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=30)
        deadline = time.monotonic() + 10
        while components.process_alive(restarted) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not components.process_alive(restarted)  # nothing outlives the supervisor
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait(timeout=10)


def test_an_ha_drill_counts_the_patients_of_the_shard_the_pair_serves_and_traffic_follows_them(settings):
    from apps.core.models import ShardMapEntry

    ShardMapEntry.objects.all().delete()
    ShardMapEntry.objects.create(bucket_start=0, bucket_end=767, shard_alias="shard_1")
    ShardMapEntry.objects.create(bucket_start=768, bucket_end=1023, shard_alias="shard_0")
    settings.PIMLAB_CHAOS_POLICY = {"max_patient_share": 1.0, "max_traffic_share": 1.0}
    errors = errors_of(small_manifest(blast_radius={**HA_RADIUS, "max_patient_share": 0.8}))
    assert any(
        "blast_radius.max_traffic_share: the targeted shards serve about 75%" in e for e in errors["blast_radius"]
    )
    errors = errors_of(small_manifest(blast_radius=HA_RADIUS))
    assert any(
        "hold 75% of patients, more than the declared max_patient_share 50%" in e for e in errors["blast_radius"]
    )


def _patient_on(shard: str):
    from apps.core.resolver import shard_for_bucket
    from tests.factories import PatientFactory

    return PatientFactory(bucket=next(b for b in range(1024) if shard_for_bucket(b) == shard))


@pytest.mark.parametrize(("on_target", "elsewhere", "measured"), [(18, 6, 0.75), (3, 2, None)])
def test_a_run_measures_the_traffic_share_it_touched_and_flags_more_than_declared(on_target, elsewhere, measured):
    """The declared max_traffic_share (0.5 for shard_1) is an estimate; the run counts the writes."""
    from tests.chaos.test_drill_outcomes import book

    target_patient, other_patient = _patient_on("shard_1"), _patient_on("shard_0")
    target_user, _ = persona_user(PersonaRole.PATIENT, patient=target_patient)
    other_user, _ = persona_user(PersonaRole.PATIENT, patient=other_patient)

    @action("test_live_traffic")
    def live_traffic(ctx):
        book(target_patient, target_user, on_target)
        book(other_patient, other_user, elsewhere)
        return {"booked": on_target + elsewhere}

    run = run_execute(
        run=approved_run(
            key="api/traffic-share",
            method=[{"name": "traffic", "type": "action", "action": "test_live_traffic", "arguments": {}}],
        )
    )
    assert run.status == RunStatus.COMPLETED, run.journal
    share = run.summary["traffic_share"]
    assert share["writes"] == {"shard_0": elsewhere, "shard_1": on_target}
    assert (share["declared"], share["measured"]) == (0.5, measured)
    flagged = [a for a in run.journal.get("annotations", []) if a["phase"] == "traffic"]
    if measured is None:
        assert not share["above_declared"] and "fewer than 20" in share["note"] and not flagged
    else:
        assert share["above_declared"] and share["note"] == "18 of 24 writes landed on shard_1"
        assert "Measured traffic share 75% above the declared max_traffic_share 50%" in flagged[0]["text"]
