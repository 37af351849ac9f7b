"""Actions and probes on the HA SQL tier: pod kill, switchover, rejoin, and the drill workload.

State shared between the activities of one run (workload process, the fault's timestamp) lives
in ``ctx.state``; measured figures go to ``ctx.summary``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import structlog
from django.conf import settings

from . import ha_lab
from .metrics import API_ERROR_RATIO, SQL_FAILOVER_DURATION_SECONDS
from .registry import ActivityContext, ActivityFailed, action, probe
from .workload import ACKNOWLEDGED_TABLE, analyse, missing_acknowledged, read_attempts, workload_env

logger = structlog.get_logger(__name__)

HA_SHARD_LABEL = "ha"
NODE_CHOICES = ("leader", *ha_lab.NODE_NAMES)
MAX_WAIT_SECONDS = 600  # every timeout argument of the HA actions
MAX_WORKLOAD_WRITERS = 16
MAX_WORKLOAD_SECONDS = 3600


def _lab() -> ha_lab.LabState:
    state = ha_lab.load_state()
    if state is None:
        raise ActivityFailed("The HA lab is not up: run `python manage.py lab_ha up` first.")
    return state


def _rto_target(ctx: ActivityContext, fault: str) -> float:
    default = 10.0 if fault == "pod_kill" else 5.0
    return float(
        ctx.configuration.get(f"rto_target_seconds_{fault}", ctx.configuration.get("rto_target_seconds", default))
    )


@probe("ha_leader_present", requires=("ha_pair",))
def ha_leader_present(ctx: ActivityContext) -> bool:
    """The HA pair has a leader answering Patroni's /primary."""
    state = ha_lab.load_state()
    return bool(state and ha_lab.cluster_leader(state))


@probe("ha_replication_healthy", requires=("ha_pair",))
def ha_replication_healthy(ctx: ActivityContext) -> bool:
    """The leader reports a streaming synchronous standby."""
    state = ha_lab.load_state()
    return bool(state and ha_lab.sync_standby(state))


@action("ha_wait_healthy", targets=("ha_cluster",), limits={"timeout": MAX_WAIT_SECONDS}, requires=("ha_pair",))
def ha_wait_healthy(ctx: ActivityContext, timeout: float = 120) -> dict:
    """Wait until the pair has a leader and a streaming synchronous standby."""
    state = _lab()
    standby = ctx.wait_for(lambda: ha_lab.sync_standby(state), timeout=timeout, what="a streaming sync standby")
    return {"leader": ha_lab.cluster_leader(state), "sync_standby": standby}


@action(
    "workload_start",
    targets=("ha_cluster",),
    limits={"writers": MAX_WORKLOAD_WRITERS, "duration": MAX_WORKLOAD_SECONDS},
    choices={"kind": ("http", "orm")},
    requires=("ha_pair",),
)
def workload_start(ctx: ActivityContext, kind: str = "http", writers: int = 2, duration: float = 600) -> dict:
    """Start the background persona workload against the HA shard (a child process of the lab).

    ``http`` (default): patient personas book encounters through ``POST /api/encounters`` of the
    lab's own app (``PIMLAB_EXTERNAL_URL``), whose shard ``shard_<PIMLAB_HA_SHARD_INDEX>`` is the HA
    pair's multi-host URL. ``orm``: bare writes on that shard alias, the unit of comparison without
    the app. The manifest names neither the URL nor the shard: persona tokens go to the lab only."""
    state = _lab()
    shard_index = settings.PIMLAB_HA_SHARD_INDEX
    writers, duration = min(int(writers), MAX_WORKLOAD_WRITERS), min(float(duration), MAX_WORKLOAD_SECONDS)
    workdir = Path(state.base_dir) / f"workload-{ctx.run_id or 'adhoc'}-{int(time.time() * 1000)}"
    workdir.mkdir(parents=True)
    out, stop_file = workdir / "attempts.jsonl", workdir / "stop"
    argv = [
        sys.executable,
        str(settings.BASE_DIR / "manage.py"),
        "chaos_workload",
        f"--kind={kind}",
        f"--out={out}",
        f"--stop-file={stop_file}",
        f"--writers={writers}",
        f"--duration={duration}",
        f"--alias=shard_{shard_index}",
    ]
    base_url = ""
    if kind == "http":
        base_url = settings.PIMLAB_EXTERNAL_URL.rstrip("/")
        argv.append(f"--base-url={base_url}")
    env = workload_env(shard_index=shard_index, shard_url=state.dsn())
    env["PIMLAB_LOG_LEVEL"] = "WARNING"
    with open(workdir / "workload.log", "ab") as log:
        # No new session: the workload belongs to the lab's process tree and stops with it.
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    ctx.state["workload"] = {"pid": process.pid, "out": str(out), "stop_file": str(stop_file), "kind": kind}

    def first_write():
        if any(r.get("ok") for r in read_attempts(out)):
            return True
        if process.poll() is not None:
            tail = (workdir / "workload.log").read_text(errors="replace")[-1500:]
            raise ActivityFailed(f"The workload exited with {process.returncode} before its first write:\n{tail}")
        return False

    ctx.wait_for(first_write, timeout=60, what="the first workload write")
    return {"pid": process.pid, "kind": kind, "writers": writers, "attempts_file": str(out), "base_url": base_url}


@action("ha_pod_kill", targets=("ha_cluster",), choices={"node": NODE_CHOICES}, requires=("ha_pair",))
def ha_pod_kill(ctx: ActivityContext, node: str = "leader") -> dict:
    """Kill a node like a pod kill: SIGKILL its Patroni agent and its postmaster together."""
    state = _lab()
    name = ha_lab.cluster_leader(state) if node == "leader" else node
    if name is None:
        raise ActivityFailed("No leader to kill.")
    result = ha_lab.node_kill(state, name)
    ctx.state["fault"] = {"kind": "pod_kill", "node": name, "at": result["killed_at"]}
    ctx.annotate("injection", f"Pod kill of HA leader {name}")
    return result


@action("ha_postmaster_kill", targets=("ha_cluster",), choices={"node": NODE_CHOICES}, requires=("ha_pair",))
def ha_postmaster_kill(ctx: ActivityContext, node: str = "leader") -> dict:
    """Crash only the leader's postmaster; Patroni restarts it or fails over."""
    state = _lab()
    name = ha_lab.cluster_leader(state) if node == "leader" else node
    if name is None:
        raise ActivityFailed("No leader to crash.")
    result = ha_lab.postmaster_kill(state, name)
    ctx.state["fault"] = {"kind": "postmaster_crash", "node": name, "at": result["killed_at"]}
    ctx.annotate("injection", f"Postmaster crash on HA leader {name}")
    return result


@action("ha_switchover", targets=("ha_cluster",), choices={"candidate": ha_lab.NODE_NAMES}, requires=("ha_pair",))
def ha_switchover(ctx: ActivityContext, candidate: str | None = None) -> dict:
    """Planned switchover to the synchronous standby (Patroni's REST API, as patronictl does)."""
    state = _lab()
    ctx.annotate("injection", "Planned switchover (Patroni REST API)")
    ctx.state["fault"] = {"kind": "switchover", "node": ha_lab.cluster_leader(state), "at": time.time()}
    try:
        result = ha_lab.switchover(state, candidate=candidate)
    except ha_lab.HaLabError as exc:
        raise ActivityFailed(str(exc)) from exc
    return result


@action("ha_measure_recovery", targets=("ha_cluster",), limits={"timeout": MAX_WAIT_SECONDS}, requires=("ha_pair",))
def ha_measure_recovery(ctx: ActivityContext, timeout: float = 120) -> dict:
    """Wait for the first write through the app after the fault; RTO = that write's ack − the fault."""
    fault, workload = ctx.state.get("fault"), ctx.state.get("workload")
    if not fault or not workload:
        raise ActivityFailed("ha_measure_recovery needs a running workload and a fault earlier in the method.")
    out = Path(workload["out"])
    state = _lab()
    in_place = fault["kind"] == "postmaster_crash"  # Patroni may restart the same node as leader

    def leader_after_fault():
        name = ha_lab.cluster_leader(state)
        if not name or (name == fault["node"] and not (in_place and _restarted_since(state, name, fault["at"]))):
            return None
        return name

    target = _rto_target(ctx, fault["kind"])
    deadline = time.monotonic() + float(timeout)
    try:
        new_leader = ctx.wait_for(leader_after_fault, timeout=timeout, what="a new leader")
    except ActivityFailed:
        _no_recovery(ctx, fault, timeout=float(timeout), target=target, what="no new leader")
        raise
    promoted_at = ha_lab.promoted_at(state, new_leader, since=fault["at"]) or time.time()
    ctx.summary.update({"leader_lost_at": fault["at"], "old_leader": fault["node"]})
    if new_leader != fault["node"]:
        ctx.summary.update({"promoted_at": promoted_at, "new_leader": new_leader})
    leader_port = state.node(new_leader).pg_port

    settled_at = time.time()

    def recovered():
        report = analyse(
            read_attempts(out),
            fault_at=fault["at"],
            leader_port=leader_port,
            after_outage=in_place,
            settled_at=settled_at,
        )
        return report if report.rto_seconds is not None else None

    try:
        report = ctx.wait_for(
            recovered,
            timeout=max(1.0, deadline - time.monotonic()),
            what="the first successful write on the new leader",
        )
    except ActivityFailed:
        _no_recovery(ctx, fault, timeout=float(timeout), target=target, what="no successful write")
        raise
    ctx.state["recovered_at"] = report.recovered_at
    SQL_FAILOVER_DURATION_SECONDS.labels(shard_id=HA_SHARD_LABEL, fault=fault["kind"]).set(report.rto_seconds)
    ctx.summary.update(
        {
            "fault": fault["kind"],
            "rto_seconds": report.rto_seconds,
            "rto_target_seconds": target,
            "old_leader": fault["node"],
            "new_leader": new_leader,
            "workload": workload["kind"],
            "first_write_at": report.recovered_at,
        }
    )
    ctx.annotate(
        "recovery", f"First write after {fault['kind']}: RTO {report.rto_seconds:.2f} s (target {target:.0f} s)"
    )
    if report.rto_seconds > target:
        _rto_alert(ctx, report.rto_seconds, target, fault["kind"])
    return {"rto_seconds": report.rto_seconds, "rto_target_seconds": target, "new_leader": new_leader}


def _restarted_since(state: ha_lab.LabState, name: str, moment: float) -> bool:
    """The node's PostgreSQL runs again and was started after ``moment`` (an in-place restart)."""
    from datetime import datetime

    _, body = ha_lab.rest(state, name, "patroni")
    try:
        started = datetime.fromisoformat(body.get("postmaster_start_time") or "").timestamp()
    except ValueError:
        return False
    return body.get("state") == "running" and started >= moment


def _no_recovery(ctx: ActivityContext, fault: dict, *, timeout: float, target: float, what: str) -> None:
    """No recovery within the timeout: the failover lasted at least the time since the fault. Record that
    lower bound in sql_failover_duration_seconds, mark the outcome, and page before the step fails."""
    elapsed = max(time.time() - fault["at"], timeout)
    SQL_FAILOVER_DURATION_SECONDS.labels(shard_id=HA_SHARD_LABEL, fault=fault["kind"]).set(elapsed)
    ctx.summary.update(
        {
            "fault": fault["kind"],
            "rto_seconds": None,
            "rto_timeout_seconds": timeout,
            "rto_target_seconds": target,
            "failover_outcome": "timeout",
            "old_leader": fault["node"],
            "leader_lost_at": fault["at"],
        }
    )
    ctx.annotate("recovery", f"No recovery after {fault['kind']} within {timeout:.0f} s ({what})")
    _rto_alert(ctx, elapsed, target, fault["kind"], summary=f"No recovery within {timeout:.0f} s ({what})")


def _rto_alert(ctx: ActivityContext, rto: float, target: float, fault: str, *, summary: str = "") -> None:
    from apps.slo.services import alert_event_record

    alert_event_record(
        name="SQLFailoverRTOExceeded",
        severity="critical",
        status="firing",
        labels={"shard_id": HA_SHARD_LABEL, "experiment": ctx.experiment_key, "fault": fault},
        annotations={
            "summary": summary or f"Failover took {rto:.1f} s, over the {target:.0f} s RTO target",
            "runbook": "docs/runbooks/30_sql-failover.md",
            "run_id": str(ctx.run_id or ""),
        },
    )
    ctx.summary["rto_alert"] = "critical"


@action("workload_stop", targets=("ha_cluster",), requires=("ha_pair",))
def workload_stop(ctx: ActivityContext, verify: bool = True) -> dict:
    """Stop the workload and check every acknowledged write exists on the leader (RPO)."""
    workload = ctx.state.get("workload")
    if not workload:
        return {"stopped": False, "reason": "no workload was started"}
    Path(workload["stop_file"]).touch()
    pid = workload["pid"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and ha_lab.process_alive(pid):
        time.sleep(0.1)
        _reap(pid)
    if ha_lab.kill_pid(pid):
        _reap(pid)
    ctx.state.pop("workload", None)
    records = read_attempts(Path(workload["out"]))
    fault = ctx.state.get("fault") or {}
    report = analyse(records, fault_at=fault.get("at"), recovered_by=ctx.state.get("recovered_at"))
    result = report.as_dict()
    if verify and records:
        state = _lab()
        missing = _missing_on_leader(
            ctx, state, table=ACKNOWLEDGED_TABLE[workload["kind"]], ids=report.acknowledged_ids
        )
        result["acknowledged_lost"] = len(missing)
        result["lost_ids_sample"] = missing[:20]
        ctx.summary["rpo_acknowledged_writes_lost"] = len(missing)
    ctx.summary.update(
        {
            "workload_attempts": report.attempts,
            "workload_acknowledged": report.acknowledged,
            "error_ratio": report.window_error_ratio if fault else report.error_ratio,
        }
    )
    API_ERROR_RATIO.labels(experiment=ctx.experiment_key or "adhoc", shard_id=HA_SHARD_LABEL).set(
        ctx.summary["error_ratio"]
    )
    return result


def _missing_on_leader(ctx: ActivityContext, state: ha_lab.LabState, *, table: str, ids: list[str]) -> list[str]:
    """Acknowledged ids missing on the writable leader; waits (up to 60 s) for one to accept a session,
    since Patroni may still be restarting or promoting a node right after the fault."""
    errors: list[str] = []

    def check():
        try:
            return (missing_acknowledged(dsn=state.dsn(), table=table, ids=ids),)
        except psycopg.OperationalError as exc:
            errors[:] = [str(exc).splitlines()[0]]
            return None

    try:
        return ctx.wait_for(check, timeout=60, what="a writable leader for the RPO check", interval=0.5)[0]
    except ActivityFailed as exc:
        raise ActivityFailed(f"{exc} Last error: {errors[0] if errors else 'none'}") from exc


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@action("ha_rejoin", targets=("ha_cluster",), limits={"timeout": MAX_WAIT_SECONDS}, requires=("ha_pair",))
def ha_rejoin(ctx: ActivityContext, timeout: float = 180) -> dict:
    """Rollback: restart the killed node's Patroni (pg_rewind) and wait until it streams as sync standby."""
    state = _lab()
    fault = ctx.state.get("fault") or {}
    name = fault.get("node")
    restarted = []
    for node in state.nodes:
        if not ha_lab.process_alive(node.patroni_pid):
            ha_lab.node_start(state, node.name)
            restarted.append(node.name)
    leader = ctx.wait_for(lambda: ha_lab.cluster_leader(state), timeout=timeout, what="a leader")
    # The node that was the leader before the fault must come back as the synchronous standby.
    expected = name if name and name != leader else None
    stable_since: list[float] = []

    def rejoined():
        current = ha_lab.sync_standby(state)
        if not current or (expected is not None and current != expected):
            stable_since.clear()
            return None
        stable_since[:1] = stable_since[:1] or [time.monotonic()]
        # Seen streaming in sync for 2 s: a rejoining node can show up briefly before it rewinds.
        return current if time.monotonic() - stable_since[0] >= 2 else None

    standby = ctx.wait_for(rejoined, timeout=timeout, what=f"{expected or 'a node'} streaming as synchronous standby")
    ctx.summary["rejoined"] = {"node": standby, "restarted": restarted, "sync_state": "sync", "state": "streaming"}
    return {"restarted": restarted, "sync_standby": standby, "leader": ha_lab.cluster_leader(state)}
