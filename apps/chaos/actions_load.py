"""Persona load during drills: Locust, headless, with the persona mix of ``load/locustfile.py``.

``persona_load_start`` writes the synthetic personas (``manage.py load_personas``) into the run's
folder (``PIMLAB_CHAOS_RUNS_DIR/run-<id>/persona-load``, 0700; the personas file 0600: it holds
tokens) and starts Locust as a child of the lab's process (no new session: it stops with the lab)
against the lab's own URL (``PIMLAB_EXTERNAL_URL``; never a manifest's). Its run time is bounded
by its ceiling and by what is left of the run's hard stop. ``persona_load_stop`` (the method's
step and the rollback) ends it, and the run's summary keeps the report Locust's CSV statistics
give (``persona_load``: requests/s, failures, p50/p95/p99 per operation), the same report as
``make load`` (``load/report.py``), whose files stay beside the run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management import call_command

from .ha_lab import process_alive
from .registry import ActivityContext, ActivityFailed, action, probe

MAX_LOAD_USERS = 50  # two cores: more simulated users measure Locust, not the lab
MAX_LOAD_SPAWN_RATE = 50
MAX_LOAD_SECONDS = 3600
STOP_WAIT_SECONDS = 15
START_WAIT_SECONDS = 30
LOCUSTFILE = "load/locustfile.py"
REPORT_SCRIPT = "load/report.py"
# Think times and other knobs of the locustfile come from the lab's environment, never a manifest.
LOAD_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "LOAD_WAIT_MIN", "LOAD_WAIT_MAX")

_processes: dict[int, subprocess.Popen] = {}  # started by this process: waited for, never left as zombies


def lab_url() -> str:
    return settings.PIMLAB_EXTERNAL_URL.rstrip("/")


def lab_url_problem() -> str | None:
    """Why the persona load could not reach the lab now (None when the lab answers /healthz)."""
    url = lab_url()
    try:
        response = requests.get(f"{url}/healthz", timeout=3)
    except requests.RequestException as exc:
        return (
            f"the lab's web server at PIMLAB_EXTERNAL_URL ({url}/healthz: {type(exc).__name__}); "
            "start it with `make run` or set PIMLAB_EXTERNAL_URL to the lab's own URL"
        )
    if response.status_code != 200:
        return f"the lab's web server at PIMLAB_EXTERNAL_URL ({url}/healthz answered {response.status_code})"
    if importlib.util.find_spec("locust") is None:
        return "Locust (pip install -r requirements.txt)"
    return None


def run_folder(run_id: int | None) -> Path:
    """The run's own folder: what its activities leave beside the run (0700)."""
    path = Path(settings.PIMLAB_CHAOS_RUNS_DIR) / f"run-{run_id or 'adhoc'}"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _new_load_folder(run_id: int | None) -> Path:
    base = run_folder(run_id)
    for index in range(1, 100):
        folder = base / ("persona-load" if index == 1 else f"persona-load-{index}")
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
            return folder
    raise ActivityFailed(f"Too many persona loads in {base}.")


def _report_module():
    spec = importlib.util.spec_from_file_location("pimlab_load_report", Path(settings.BASE_DIR) / REPORT_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_report(folder: Path, *, write: bool = False) -> dict | None:
    """Locust's CSV statistics as ``load/report.py`` reads them (None before Locust wrote any);
    ``write`` also leaves report.json and report.md in the folder."""
    stats = folder / "locust_stats.csv"
    if not stats.exists() or stats.stat().st_size == 0:
        return None
    module = _report_module()
    try:
        report = module.load_report(folder)
    except (KeyError, ValueError):  # a file cut short while Locust rewrites it
        return None
    if write:
        import json

        (folder / "report.json").write_text(json.dumps(report, indent=2))
        (folder / "report.md").write_text(module.report_markdown(report))
    return report


def _totals(report: dict | None) -> dict:
    total = next((op for op in (report or {}).get("operations", []) if op["operation"] == "all"), None)
    if total is None:
        return {"requests": 0, "failures": 0, "requests_per_second": 0.0, "error_ratio": 0.0}
    requests_ = total["requests"]
    return {
        "requests": requests_,
        "failures": total["failures"],
        "requests_per_second": total["requests_per_second"],
        "error_ratio": round(total["failures"] / requests_, 4) if requests_ else 0.0,
    }


def _is_our_locust(pid: int, folder: str) -> bool:
    """The pid is still the Locust this run started (not a reused pid)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return "locust" in command and folder in command


def _reap(pid: int) -> None:
    process = _processes.get(pid)
    if process is not None:
        if process.poll() is not None:
            _processes.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int, folder: str) -> bool:
    _reap(pid)
    return process_alive(pid) and _is_our_locust(pid, folder)


def _stop(pid: int, folder: str) -> str:
    """SIGTERM (Locust writes its last statistics and exits), SIGKILL after STOP_WAIT_SECONDS."""
    if not _alive(pid, folder):
        return "already ended"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        if not _alive(pid, folder):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid, folder):
        time.sleep(0.1)
    return "killed"


@action(
    "persona_load_start",
    targets=(),
    limits={"users": MAX_LOAD_USERS, "spawn_rate": MAX_LOAD_SPAWN_RATE, "duration_seconds": MAX_LOAD_SECONDS},
    requires=("lab_url",),
)
def persona_load_start(ctx: ActivityContext, users: int = 10, spawn_rate: float = 5, duration_seconds: float = 60):
    """Start the persona load (Locust, headless) against the lab's own URL for at most ``duration_seconds``.

    Synthetic traffic, not a fault: the probes' personas book, document and claim on every shard,
    marked synthetic. Stopped by ``persona_load_stop`` (method or rollback), by its run time, by the
    run's hard stop, and with the lab."""
    running = ctx.state.get("persona_load")
    if running and _alive(running["pid"], running["folder"]):
        raise ActivityFailed(f"A persona load is already running (pid {running['pid']}); stop it first.")
    users = max(1, min(int(users), MAX_LOAD_USERS))
    spawn_rate = max(0.1, min(float(spawn_rate), MAX_LOAD_SPAWN_RATE))
    seconds = max(1, min(int(duration_seconds), MAX_LOAD_SECONDS))
    left = ctx.time_left()
    if left is not None:
        seconds = max(1, min(seconds, int(left)))
    folder = _new_load_folder(ctx.run_id)
    personas = folder / "personas.json"
    try:
        call_command("load_personas", out=str(personas), stdout=io.StringIO())
    except Exception as exc:  # the command's own message is the remediation (no shard map, no database)
        raise ActivityFailed(f"Could not write the synthetic personas: {exc}") from exc
    personas.chmod(0o600)
    host = lab_url()
    argv = [
        sys.executable, "-m", "locust", "-f", str(Path(settings.BASE_DIR) / LOCUSTFILE), "--headless",
        "--host", host, "-u", str(users), "-r", f"{spawn_rate:g}", "-t", f"{seconds}s",
        "--csv", str(folder / "locust"), "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "5",
    ]  # fmt: skip
    env = {name: os.environ[name] for name in LOAD_ENVIRONMENT if name in os.environ}
    env["LOAD_PERSONAS"] = str(personas)
    with open(folder / "locust.log", "ab") as log:
        # No new session: Locust belongs to the lab's process tree and stops with it.
        process = subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    _processes[process.pid] = process
    ctx.state["persona_load"] = {
        "pid": process.pid,
        "folder": str(folder),
        "started_at": time.time(),
        "users": users,
        "spawn_rate": spawn_rate,
        "duration_seconds": seconds,
    }

    def statistics_written():
        if (folder / "locust_stats.csv").exists():
            return True
        if process.poll() is not None:
            tail = (folder / "locust.log").read_text(errors="replace")[-1500:]
            raise ActivityFailed(f"Locust exited with {process.returncode} before it started:\n{tail}")
        return False

    ctx.wait_for(statistics_written, timeout=START_WAIT_SECONDS, what="Locust to start")
    ctx.annotate("load", f"Persona load: {users} users for at most {seconds} s against {host}")
    return {"pid": process.pid, "users": users, "spawn_rate": spawn_rate, "duration_seconds": seconds, "host": host}


@action("persona_load_stop", targets=())
def persona_load_stop(ctx: ActivityContext) -> dict:
    """Stop the persona load (also its rollback) and keep its report in the run's summary."""
    running = ctx.state.get("persona_load")
    if not running:
        return {"stopped": False, "reason": "no persona load is running"}
    pid, folder = running["pid"], running["folder"]
    how = _stop(pid, folder)
    ctx.state.pop("persona_load", None)
    report = load_report(Path(folder), write=True)
    summary = {
        **_totals(report),
        "operations": [op for op in (report or {}).get("operations", []) if op["operation"] != "all"],
        "users": running["users"],
        "spawn_rate": running["spawn_rate"],
        "duration_seconds": round(time.time() - running["started_at"], 1),
        "folder": folder,
        "stopped": how,
    }
    if report is None:
        summary["note"] = "Locust wrote no statistics (see locust.log in the folder)"
    ctx.summary["persona_load"] = summary
    return {"stopped": True, "pid": pid, "how": how, **_totals(report), "folder": folder}


@probe("persona_load_error_ratio")
def persona_load_error_ratio(ctx: ActivityContext) -> float:
    """Failed over all requests of the persona load: the running one (Locust's CSV, at most a few
    seconds old), else the last one of this run; 0 when none ran."""
    running = ctx.state.get("persona_load")
    if running:
        return _totals(load_report(Path(running["folder"])))["error_ratio"]
    return float((ctx.summary.get("persona_load") or {}).get("error_ratio", 0.0))


def live_error_ratio(state: dict) -> float | None:
    """The running persona load's error ratio (None when none runs), for the run's abort condition."""
    running = state.get("persona_load")
    if not running:
        return None
    report = load_report(Path(running["folder"]))
    return _totals(report)["error_ratio"] if report else None
