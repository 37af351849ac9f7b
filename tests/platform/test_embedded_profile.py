"""The embedded profile boots with no services and no configuration: SQLite under PIMLAB_VAR_DIR,
a filesystem broker, gunicorn from the project's config, a Celery worker on that broker."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support.logs import json_lines_of
from tests.support.network import unused_port
from tests.support.processes import process_stop

BASE_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WAIT_SECONDS = 90  # a bound on start-up, not a speed assertion

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_env(tmp_path):
    """Only what a fresh shell has: no PIMLAB_* URLs, no DJANGO_* besides the settings module."""
    env = {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.local",
        "PIMLAB_VAR_DIR": str(tmp_path / "var"),
        "PIMLAB_WEB_PORT": str(unused_port()),
    }
    (tmp_path / "home").mkdir()
    return env


def run(env, *args, timeout=300) -> str:
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback URL built here)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def staff_session(base: str):
    """A browser-like session signed in as the seeded operator (staff)."""
    import requests

    from apps.core.models import PersonaRole
    from apps.core.personas import DEMO_PASSWORDS, OPERATOR_USERNAME

    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    session.post(
        f"{base}/accounts/login/",
        data={
            "username": OPERATOR_USERNAME,
            "password": DEMO_PASSWORDS[PersonaRole.OPERATOR],
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    return session


def wait_until(predicate, process, log: Path):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.25)
    pytest.fail(f"process did not get there; output:\n{log.read_text(errors='replace')[-4000:]}")


def start(command, env, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_embedded_profile_migrates_seeds_and_serves(embedded_env, tmp_path):
    var = Path(embedded_env["PIMLAB_VAR_DIR"])
    assert "Migrated 4 databases" in run(embedded_env, "migrate_all")
    seeded = run(embedded_env, "seed_lab", "--patients", "10", "--seed", "1")
    assert "10 new patients (shard_0: 5, shard_1: 5)" in seeded
    assert "0 new patients" in run(embedded_env, "seed_lab", "--patients", "10", "--seed", "1")
    assert {p.name for p in var.glob("*.sqlite3")} == {
        "catalog.sqlite3",
        "shard0.sqlite3",
        "shard1.sqlite3",
        "audit.sqlite3",
    }
    for folder in ("queue", "processed", "control"):
        assert (var / "broker" / folder).is_dir()

    base = f"http://127.0.0.1:{embedded_env['PIMLAB_WEB_PORT']}"
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    web = start([str(BIN / "gunicorn"), "-c", "pimlab_portal/gunicorn.conf.py"], embedded_env, web_log)
    # As under `make run`: the worker writes its samples where gunicorn's /metrics reads them.
    worker_env = {**embedded_env, "PROMETHEUS_MULTIPROC_DIR": str(var / "prometheus-multiproc")}
    worker = start(
        [str(BIN / "celery"), "-A", "pimlab_portal", "worker", "--concurrency", "1", "--loglevel", "INFO",
         "--hostname", f"embedded-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle"],
        worker_env,
        worker_log,
    )  # fmt: skip
    try:
        wait_until(lambda: get(f"{base}/healthz")[0] == 200, web, web_log)
        status, body = get(f"{base}/healthz")
        assert json.loads(body) == {"status": "ok"}

        status, body = get(f"{base}/admin/login/")
        assert status == 200 and "csrfmiddlewaretoken" in body and 'name="username"' in body

        status, body = get(f"{base}/api/schema/")
        assert status == 200 and body.startswith("openapi:")

        status, body = get(f"{base}/static/admin/css/base.css")
        assert status == 200 and "DJANGO Admin styles" in body

        status, body = get(f"{base}/readyz")
        assert status == 200 and json.loads(body) == {"status": "ready"}, body  # no detail for anonymous callers
        ready = staff_session(base).get(f"{base}/readyz", timeout=10).json()  # the operator sees which checks ran
        assert ready["checks"]["broker"]["target"].startswith("filesystem://")
        assert ready["checks"]["database:shard_1"]["target"].endswith("shard1.sqlite3")

        # Several requests spread over both workers; /metrics (multiprocess) sums them.
        for _ in range(6):
            get(f"{base}/healthz")
        status, metrics = get(f"{base}/metrics")
        assert status == 200
        healthz_count = next(
            line
            for line in metrics.splitlines()
            if line.startswith("http_server_duration_seconds_count{") and 'route="healthz"' in line
        )
        assert float(healthz_count.rsplit(" ", 1)[1]) >= 8
        assert any((var / "prometheus-multiproc").glob("*.db"))

        # A seeded patient books through the API; the same Idempotency-Key replays the first answer
        # (the key registry in the catalog works on SQLite too), another booking with it is refused.
        import requests

        patient_id, token = run(
            embedded_env,
            "shell",
            "-c",
            "from apps.core.models import Persona; from apps.core.tokens import api_token_issue; "
            "p = Persona.objects.filter(role='patient').select_related('user').first(); "
            "print(p.patient_id, api_token_issue(user=p.user))",
        ).split()[-2:]
        start_at = time.strftime("%Y-%m-%dT10:00:00+00:00", time.gmtime(time.time() + 3 * 86400))
        booking = {
            "patient_id": patient_id,
            "encounter_type": "in_person",
            "reason": "Persistent cough",
            "requested_start": start_at,
        }
        headers = {"Authorization": f"Token {token}", "Idempotency-Key": uuid.uuid4().hex}
        first = requests.post(f"{base}/api/encounters", json=booking, headers=headers, timeout=30)
        again = requests.post(f"{base}/api/encounters", json=booking, headers=headers, timeout=30)
        other = requests.post(
            f"{base}/api/encounters", json={**booking, "reason": "Another visit"}, headers=headers, timeout=30
        )
        assert first.status_code == 202, first.text
        assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
        assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused", other.text

        # A task enqueued through the filesystem broker runs in the worker.
        label = uuid.uuid4().hex
        run(embedded_env, "shell", "-c", f"from apps.telemetry.tasks import trace_probe; trace_probe.delay({label!r})")
        wait_until(
            lambda: any(
                line.get("event") == "trace_probe_received" and line.get("label") == label
                for line in json_lines_of(worker_log)
            ),
            worker,
            worker_log,
        )
        received = next(line for line in json_lines_of(worker_log) if line.get("label") == label)
        assert received["actor_role"] == "system" and received["request_id"]  # no publisher request: beat-like
        assert len(received["trace_id"]) == 32
        # The worker's task metrics appear in the web process's /metrics.
        metrics = get(f"{base}/metrics")[1]
        assert 'celery_task_runs_total{state="SUCCESS",task="telemetry.trace_probe"} 1.0' in metrics
    finally:
        process_stop(web)
        process_stop(worker)
    assert not (BASE_DIR / "control").exists(), "broker state stays under PIMLAB_VAR_DIR"
    assert any((var / "broker" / "control").iterdir())

    request_lines = [line for line in json_lines_of(web_log) if line.get("event") == "request_finished"]
    assert request_lines, web_log.read_text()[-3000:]
    for line in request_lines:
        for field in ("request_id", "trace_id", "user_id", "persona", "actor_role", "shard_id"):
            assert field in line
