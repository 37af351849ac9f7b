"""How the lab runs drills (issue 13): `make run` reconciles the manifest folder before serving, drills
have their own queue and worker with Celery time limits, the projection worker runs supervised."""

from __future__ import annotations

from pathlib import Path

from celery import current_app
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_make_run_reconciles_the_manifests_before_it_serves_and_starts_every_lab_process():
    run_target = (ROOT / "Makefile").read_text().split("\nrun: ", 1)[1].split("\n\n", 1)[0]
    reconcile, serve = run_target.index("manage.py chaos_reconcile"), run_target.index("scripts/run_lab.sh")
    assert reconcile < serve
    makefile = (ROOT / "Makefile").read_text()
    processes = next(line for line in makefile.splitlines() if line.startswith("RUN_PROCESSES :="))
    assert {"web", "worker", "chaos", "projections", "beat"} <= set(processes.replace("$(", " ").split())
    honcho = next(line for line in (ROOT / "scripts/run_lab.sh").read_text().splitlines() if "honcho start" in line)
    assert "${RUN_PROCESSES:-web worker chaos projections beat}" in honcho
    assert set(procfile()) >= {"web", "worker", "chaos", "projections", "beat"}


def test_drills_have_their_own_queue_worker_and_time_limits():
    processes = procfile()
    assert "--queues chaos" in processes["chaos"] and "--concurrency 1" in processes["chaos"]
    assert "--queues" not in processes["worker"]  # the relay and the audit shipper keep their slots
    assert "manage.py lab_supervise projection_worker" in processes["projections"]
    route = current_app.amqp.router.route({}, "chaos.run_execute")
    assert route["queue"].name == "chaos"
    from apps.chaos.tasks import chaos_run_execute

    # The longest manifest (3600 s), then its rollbacks; the worker kills the task at the hard limit.
    assert 3600 < chaos_run_execute.soft_time_limit < chaos_run_execute.time_limit
    assert current_app.amqp.router.route({}, "chaos.reap_lost_runs")["queue"].name != "chaos"
