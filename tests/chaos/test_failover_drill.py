"""The failover drill end to end on a real Patroni pair: pod kill under load, RTO, RPO, rejoin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from apps.chaos import ha_lab
from apps.chaos.models import RunStatus
from apps.chaos.runner import run_execute
from apps.chaos.services import experiment_submit, revision_approve, revision_dry_run, run_launch
from apps.chaos.workload import DRILL_PERSONA_PREFIX, read_attempts
from apps.core.tokens import api_token_issue
from apps.slo.models import AlertEvent, TimelineAnnotation
from tests.support.databases import child_env, database_url

from .conftest import free_base_port, manifest_text


@pytest.fixture(scope="module")
def app_server(django_db_setup, ha_pair):
    """The portal under gunicorn (2 sync workers) with shard_1 on the HA pair (multi-host URL) and the
    test catalog, shard_0 and audit store; killed by its process group afterwards, even on failure."""
    port = free_base_port(low=15480, high=15500, span=1)
    env = child_env(PIMLAB_SHARD_URLS=f"{database_url('shard_0')},{ha_pair.dsn()}", PIMLAB_LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "pimlab_portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "60",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base_url}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield server, base_url
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the master and its worker: their own process group
        server.wait(timeout=10)


@pytest.fixture
def lab_app(app_server, settings):
    """The app server as the lab's own app: the drill workload books through PIMLAB_EXTERNAL_URL
    (a manifest names no URL)."""
    settings.PIMLAB_EXTERNAL_URL = app_server[1]
    return app_server


class ReadinessWatch(threading.Thread):
    """Polls /readyz and records whether the server's connection to the HA shard works."""

    def __init__(self, base_url: str):
        super().__init__(daemon=True)
        self.base_url, self.samples, self.stopped = base_url, [], threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                # Anonymous callers get ready / not ready only; during the drill the HA shard is the
                # only dependency that can fail, so "ready" means its connection works.
                ok = requests.get(f"{self.base_url}/readyz", timeout=5).json().get("status") == "ready"
            except (requests.RequestException, ValueError, AttributeError):
                ok = None  # the server itself did not answer
            self.samples.append((time.time(), ok))
            self.stopped.wait(0.5)


pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]


def test_pod_kill_failover_drill_meets_rto_loses_no_acknowledged_write_and_rejoins(
    ha_pair, lab_app, sre_author, sre_approver
):
    server, base_url = lab_app
    revision = experiment_submit(
        key="sql-failover-pod-kill.yaml",
        manifest_text=manifest_text(
            "sql-failover-pod-kill.yaml",
            owner="sre-author",
            configuration={"rto_target_seconds_pod_kill": 10},
        ),
        author="sre-author",
    )
    report = revision_dry_run(revision=revision)
    assert report["ok"], report
    revision_approve(revision=revision, approver="sre-approver")
    revision.refresh_from_db()
    old_leader = ha_lab.cluster_leader(ha_lab.load_state())

    watch = ReadinessWatch(base_url)
    watch.start()
    try:
        run = run_execute(run=run_launch(revision=revision, launched_by="sre-approver", enqueue=False))
    finally:
        watch.stopped.set()
        watch.join(timeout=10)

    summary, journal = run.summary, run.journal
    assert run.status == RunStatus.COMPLETED, (journal.get("run"), journal.get("rollbacks"))
    assert summary["old_leader"] == old_leader and summary["new_leader"] != old_leader
    # The node agent saw the old leader's processes gone and released its lock: no 20 s lease wait.
    assert 0 < summary["rto_seconds"] <= summary["rto_target_seconds"] == 10
    agent_log = Path(ha_lab.load_state().node(old_leader).log_file).with_name("agent.log").read_text()
    assert '"leader_released": true' in agent_log
    # The workload booked through the API: patient personas, token auth, Idempotency-Key.
    assert summary["workload"] == "http"
    assert summary["workload_acknowledged"] > 0
    assert summary["rpo_acknowledged_writes_lost"] == 0  # every id answered 2xx is on the new leader
    outputs = {e["activity"]["action"]: e["output"] for e in journal["run"]}
    assert outputs["workload_stop"]["acknowledged_lost"] == 0
    attempts = read_attempts(Path(outputs["workload_start"]["attempts_file"]))
    answered = [r for r in attempts if r.get("ok")]
    assert {r["status"] for r in answered} == {202}
    # The app rode through: the promotion takes well under its retry budget, so a booking caught by
    # it is answered 202 late; an answer that is not 202 can only be a 503 problem+json (budget
    # spent), never a dropped connection or a gateway timeout.
    failures = [r for r in attempts if not r.get("ok")]
    assert {r["error"] for r in failures} <= {"HTTP 503"}
    # An encounter answered 2xx during the drill is readable through the API afterwards.
    last = max(answered, key=lambda r: r["end"])
    # Tokens are stored hashed: issue a fresh one for the writer's persona to read it back.
    writer = get_user_model().objects.get(username=f"{DRILL_PERSONA_PREFIX}-{last['writer']:02d}")
    token = api_token_issue(user=writer)
    shown = requests.get(
        f"{base_url}/api/encounters/{last['id']}", headers={"Authorization": f"Token {token}"}, timeout=10
    )
    assert shown.status_code == 200 and shown.json()["id"] == last["id"]
    assert summary["rejoined"]["node"] == old_leader  # the old leader streams again as sync standby
    assert ha_lab.sync_standby(ha_lab.load_state()) == old_leader
    assert 0 <= summary["error_ratio"] <= 1

    # Journal complete: every step and rollback with start/end/output, steady state before/during/after.
    assert [e["activity"]["name"] for e in journal["run"]] == [a["name"] for a in revision.manifest["method"]]
    assert all(e["status"] == "succeeded" and e["start"] and e["end"] for e in journal["run"] + journal["rollbacks"])
    assert journal["steady_states"]["before"]["steady_state_met"]
    assert journal["steady_states"]["after"]["steady_state_met"]
    assert len(journal["steady_states"]["during"]) == 1
    assert journal["status"] == "completed" and journal["deviated"] is False

    phases = {tag for a in TimelineAnnotation.objects.filter(reference=str(run.pk)) for tag in a.tags}
    assert {"start", "injection", "recovery", "end"} <= phases
    assert not AlertEvent.objects.filter(name="SQLFailoverRTOExceeded").exists()

    exported = Client().get("/metrics").content.decode()  # what Prometheus scrapes
    assert 'sql_failover_duration_seconds{fault="pod_kill",shard_id="ha"}' in exported
    assert (
        f'api_error_ratio{{experiment="sql-failover-pod-kill.yaml",shard_id="ha"}} {summary["error_ratio"]}' in exported
    )
    assert 'chaos_experiment_active{experiment="sql-failover-pod-kill.yaml",shard_id="pimlab-ha"} 0.0' in exported

    # The live app server rode through the promotion: same process, its shard_1 connection works
    # again afterwards without a restart (the outage, under a second, is shorter than the readiness
    # poll can be sure to catch).
    assert server.poll() is None
    states = [ok for _, ok in watch.samples]
    assert True in states and states[-1] is True, watch.samples


def test_planned_switchover_over_its_rto_target_raises_a_critical_alert(ha_pair, lab_app, sre_author, sre_approver):
    # A target no switchover can meet, to prove the alert path (the real target is 5 s).
    text = manifest_text(
        "sql-switchover-planned.yaml",
        owner="sre-author",
        configuration={"rto_target_seconds_switchover": 0.001},
    )
    revision = experiment_submit(key="sql-switchover-planned.yaml", manifest_text=text, author="sre-author")
    assert revision_dry_run(revision=revision)["ok"]
    revision_approve(revision=revision, approver="sre-approver")
    old_leader = ha_lab.cluster_leader(ha_lab.load_state())

    run = run_execute(run=run_launch(revision=revision, launched_by="sre-approver", enqueue=False))

    assert run.status == RunStatus.COMPLETED, (run.journal.get("run"), run.journal.get("rollbacks"))
    assert run.summary["fault"] == "switchover" and run.summary["new_leader"] != old_leader
    assert run.summary["rpo_acknowledged_writes_lost"] == 0
    assert ha_lab.sync_standby(ha_lab.load_state()) == old_leader  # the demoted leader streams as sync standby
    alert = AlertEvent.objects.get(name="SQLFailoverRTOExceeded")
    assert alert.severity == "critical" and alert.status == "firing"
    assert alert.labels["fault"] == "switchover" and alert.annotations["runbook"] == "docs/runbooks/30_sql-failover.md"
    assert run.summary["rto_alert"] == "critical"


def test_postmaster_crash_recovers_without_losing_acknowledged_writes(ha_pair, lab_app, sre_author, sre_approver):
    text = manifest_text("sql-postmaster-crash.yaml", owner="sre-author", configuration={})
    revision = experiment_submit(key="sql-postmaster-crash.yaml", manifest_text=text, author="sre-author")
    assert revision_dry_run(revision=revision)["ok"]
    revision_approve(revision=revision, approver="sre-approver")

    run = run_execute(run=run_launch(revision=revision, launched_by="sre-approver", enqueue=False))

    assert run.status == RunStatus.COMPLETED, (run.journal.get("run"), run.journal.get("rollbacks"))
    assert run.summary["fault"] == "postmaster_crash" and run.summary["rto_seconds"] > 0
    assert run.summary["rpo_acknowledged_writes_lost"] == 0
    assert ha_lab.sync_standby(ha_lab.load_state()) is not None


def _standby_agent_signal(sig: int) -> dict:
    state = ha_lab.load_state()
    leader = ha_lab.cluster_leader(state)
    frozen = [node for node in state.nodes if node.name != leader] if sig == signal.SIGSTOP else state.nodes
    for node in frozen:
        if ha_lab.process_alive(node.patroni_pid):
            os.kill(node.patroni_pid, sig)
    return {"signal": signal.Signals(sig).name, "nodes": [node.name for node in frozen]}


def test_a_failover_that_never_recovers_records_the_timeout_and_raises_the_critical_alert(
    ha_pair, lab_app, sre_author, sre_approver
):
    """The standby's Patroni agent is frozen, so nobody can promote after the leader's pod kill: no
    recovery within the timeout must still record sql_failover_duration_seconds and page (runbook 30)."""
    from apps.chaos.registry import action

    @action("test_prevent_promotion", targets=("ha_cluster",))
    def prevent_promotion(ctx):
        return _standby_agent_signal(signal.SIGSTOP)

    @action("test_allow_promotion", targets=("ha_cluster",))
    def allow_promotion(ctx):
        return _standby_agent_signal(signal.SIGCONT)

    import yaml

    manifest = yaml.safe_load(manifest_text("sql-failover-pod-kill.yaml", owner="sre-author"))
    method = {step["action"]: step for step in manifest["method"]}
    manifest["method"] = [
        method["ha_wait_healthy"],
        method["workload_start"],
        {"name": "prevent promotion", "type": "action", "action": "test_prevent_promotion"},
        method["ha_pod_kill"],
        {**method["ha_measure_recovery"], "arguments": {"timeout": 20}},
    ]
    manifest["rollbacks"] = [
        {"name": "allow promotion", "type": "action", "action": "test_allow_promotion"},
        *manifest["rollbacks"],
    ]
    revision = experiment_submit(
        key="sql-failover-never-recovers", manifest_text=yaml.safe_dump(manifest), author="sre-author"
    )
    assert revision_dry_run(revision=revision)["ok"]
    revision_approve(revision=revision, approver="sre-approver")

    run = run_execute(run=run_launch(revision=revision, launched_by="sre-approver", enqueue=False))

    assert run.status == RunStatus.FAILED
    measure = next(e for e in run.journal["run"] if e["activity"]["action"] == "ha_measure_recovery")
    assert measure["status"] == "failed" and "Timed out after 20 s" in measure["exception"][0]
    assert run.summary["failover_outcome"] == "timeout" and run.summary["rto_timeout_seconds"] == 20
    alert = AlertEvent.objects.get(name="SQLFailoverRTOExceeded", labels__experiment="sql-failover-never-recovers")
    assert alert.severity == "critical" and alert.status == "firing"
    assert alert.annotations["runbook"] == "docs/runbooks/30_sql-failover.md"
    assert "No recovery within 20 s" in alert.annotations["summary"]
    exported = Client().get("/metrics").content.decode()
    line = next(
        line for line in exported.splitlines() if line.startswith('sql_failover_duration_seconds{fault="pod_kill"')
    )
    assert float(line.rsplit(" ", 1)[1]) >= 20
    # The rollbacks let the standby promote and rejoined the killed node: the pair is whole again.
    assert all(e["status"] == "succeeded" for e in run.journal["rollbacks"]), run.journal["rollbacks"]
    assert ha_lab.sync_standby(ha_lab.load_state()) is not None


def test_the_failover_probe_runs_its_steady_state_on_the_real_pair_and_injects_nothing(ha_pair, lab_app):
    """The fourth scenario's hourly probe against a real Patroni pair: the manifest's dry run, then its
    steady-state hypothesis (leader, sync standby, the app's shard reachable), with no fault."""
    from apps.probes.chaos_probe import probe_chaos_failover_run
    from apps.probes.models import CHAOS_FAILOVER, ProbeOutcome

    state = ha_lab.load_state()
    leader, standby = ha_lab.cluster_leader(state), ha_lab.sync_standby(state)
    result = probe_chaos_failover_run(base_url=lab_app[1])
    assert result.scenario == CHAOS_FAILOVER
    assert result.outcome == ProbeOutcome.SUCCESS, (result.failed_step, result.error, result.telemetry_missing)
    assert list(result.step_latencies) == ["manifest_dry_run", "steady_state"]
    assert result.telemetry_missing == []
    assert (ha_lab.cluster_leader(state), ha_lab.sync_standby(state)) == (leader, standby)


def _etcd_value(etcd_url: str, key: str) -> str | None:
    import base64

    answer = requests.post(
        f"{etcd_url}/v3/kv/range", json={"key": base64.b64encode(key.encode()).decode()}, timeout=5
    ).json()
    kvs = answer.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


def test_the_node_agent_releases_only_a_leader_lock_its_own_node_holds(ha_pair):
    """The release is an etcd transaction on the leader key's value: a node that does not hold the
    lock cannot delete it (a late or confused agent never takes the lock from a live leader)."""
    from apps.chaos import ha_node_agent

    state = ha_lab.load_state()
    leader = ha_lab.cluster_leader(state)
    other = next(node.name for node in state.nodes if node.name != leader)
    key = ha_node_agent.leader_key(state.namespace, ha_lab.SCOPE)
    assert _etcd_value(state.etcd_url, key) == leader  # the key Patroni uses, as the agent spells it

    assert ha_node_agent.leader_release(state.etcd_url, key, other) is False
    assert _etcd_value(state.etcd_url, key) == leader
    assert ha_lab.cluster_leader(state) == leader
    # An agent runs beside each node (a pod kill in the drills above left them running).
    assert all(node["agent_alive"] for node in ha_lab.cluster_status(state)["nodes"])
    # Each Patroni runs through the launcher that shortens its stop polling (runbook 30).
    for node in state.nodes:
        command = Path(f"/proc/{node.patroni_pid}/cmdline").read_bytes().split(b"\0")
        assert command[2:5] == [
            str(ha_lab.PATRONI_LAUNCHER).encode(),
            str(ha_lab.PATRONI_STOP_POLL_SECONDS).encode(),
            node.config_file.encode(),
        ], command


def test_the_patroni_launcher_sets_the_stop_polling_interval_of_the_installed_patroni():
    """The launcher changes a module constant of Patroni: it must exist in the installed release, and
    the launcher refuses to start Patroni if a later release drops it."""
    script = (
        "import runpy, sys, patroni.__main__ as m; m.main = lambda: print(__import__('patroni.postgresql')"
        ".postgresql.STOP_POLLING_INTERVAL) or 0; sys.argv = ['x', '0.25', 'cfg.yml'];"
        f" runpy.run_path({str(ha_lab.PATRONI_LAUNCHER)!r}, run_name='__main__')"
    )
    result = subprocess.run([ha_lab.patroni_bin("python3"), "-I", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "0.25", result


def test_the_node_agent_reaps_an_exited_child_without_waiting_for_its_poll():
    """An exited child is reaped on SIGCHLD: no zombie lingers until the agent's next poll (Patroni
    would take a zombie postmaster for a running one and wait a further second per switchover)."""
    from apps.chaos import ha_node_agent

    previous = signal.getsignal(signal.SIGCHLD)
    ha_node_agent.reap_on_child_exit()
    try:
        child = subprocess.Popen(["true"])  # nothing in this test calls wait() on it
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not Path(f"/proc/{child.pid}").exists(), "the exited child is still a zombie"
    finally:
        signal.signal(signal.SIGCHLD, previous)
