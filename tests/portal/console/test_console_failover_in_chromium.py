"""The pod-kill failover drill launched from the console on a real Patroni pair: the run page follows
it live and the report shows the RTO and RPO the run stored, with the workload's charts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from apps.chaos import selectors
from apps.chaos.models import ExperimentRun, RunStatus
from apps.chaos.services import experiment_submit, revision_approve, revision_dry_run
from apps.core.models import PersonaRole
from tests.chaos.conftest import ha_pair, manifest_text  # noqa: F401 - fixture
from tests.chaos.test_failover_drill import app_server  # noqa: F401 - fixture
from tests.support.browser import chromium, log_in, screenshot

from .conftest import celery_worker, person
from .test_console_in_chromium import chart_datasets

# A lease-bound failover (no node agent): ~20 s of 503s, so the error-ratio chart has something to show.
HA_NODE_AGENT = False

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def test_pod_kill_failover_from_the_console_reports_the_stored_rto_and_rpo(
    ha_pair,  # noqa: F811
    app_server,  # noqa: F811
    live_server,
    settings,
    tmp_path,
):
    _server, base_url = app_server
    author, approver = person(PersonaRole.SRE, "sre-author"), person(PersonaRole.SRE, "sre-approver")
    revision = experiment_submit(
        key="sql-failover-pod-kill.yaml",
        manifest_text=manifest_text(
            "sql-failover-pod-kill.yaml",
            owner=author.username,
            configuration={"rto_target_seconds_pod_kill": 25},
        ),
        author=author.username,
    )
    assert revision_dry_run(revision=revision)["ok"]
    revision_approve(revision=revision, approver=approver.username)

    worker_env = {
        "PIMLAB_HA_DIR": str(settings.PIMLAB_HA_DIR),
        "PIMLAB_HA_BASE_PORT": str(settings.PIMLAB_HA_BASE_PORT),
        # The lab's own app: the drill workload books there (a manifest names no URL).
        "PIMLAB_EXTERNAL_URL": base_url,
    }
    with celery_worker(tmp_path / "worker.log", **worker_env), chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        log_in(page, live_server.url, author.username)
        page.goto(f"{live_server.url}/console/drills")
        assert "Yes" in page.inner_text(f"#revision-{revision.pk}")  # the pair is up: it can run here
        page.goto(f"{live_server.url}/console/drills/revisions/{revision.pk}/launch")
        page.check("#confirm-inject")
        page.click("#confirm-launch")
        page.wait_for_url("**/console/drills/runs/*")
        deadline = time.monotonic() + 600
        while page.get_attribute("#run-live", "data-status") == "running" and time.monotonic() < deadline:
            assert page.locator("#abort-run").is_visible()
            page.wait_for_timeout(1000)
        run = ExperimentRun.objects.get()
        assert run.status == RunStatus.COMPLETED, (run.journal.get("run"), run.journal.get("rollbacks"))
        page.reload()
        assert page.inner_text("#run-verdict") == "Passed"
        assert page.inner_text("#figure-rto") == f"{run.summary['rto_seconds']} s"
        assert page.inner_text("#figure-rpo") == str(run.summary["rpo_acknowledged_writes_lost"]) == "0"
        assert page.inner_text("#figure-error-ratio") == str(run.summary["error_ratio"])
        series = selectors.run_workload_series(run)
        titles = range(page.locator("canvas").count())
        charts = {page.inner_text(f"#run-chart-{i}-title"): f"run-chart-{i}" for i in titles}
        rate = chart_datasets(page, charts["Workload request rate"])["requests/s"]
        assert rate == [p["request_rate"] for p in series] and max(rate) > 0
        errors = chart_datasets(page, charts["api_error_ratio of the workload"])["error ratio"]
        assert errors == [p["api_error_ratio"] for p in series] and max(e or 0 for e in errors) > 0
        assert f"{run.summary['old_leader']} → {run.summary['new_leader']}" in page.inner_text("#figure-leaders")
        assert series == run.summary["workload_series"]  # frozen when the run ended…
        outputs = [e["output"] for e in run.journal["run"] if isinstance(e["output"], dict)]
        attempts = next(o["attempts_file"] for o in outputs if "attempts_file" in o)
        Path(attempts).unlink()  # …so the scratch attempts file may go
        page.reload()
        assert chart_datasets(page, charts["Workload request rate"])["requests/s"] == rate
        screenshot(page, "console-failover-report")
        timeline = page.inner_text("#timeline")
        assert "injection" in timeline and "recovery" in timeline and "rollback" in timeline
        # The failover's own moments, from what the run stored, in seconds from the fault.
        entries = {li.get_attribute("data-kind"): li.inner_text() for li in page.locator("#timeline li").all()}
        assert "T+0.000 s" in entries["leader lost"] and run.summary["old_leader"] in entries["leader lost"]
        promoted = float(entries["promoted"].split("T", 1)[1].split(" s", 1)[0])
        assert abs(promoted - (run.summary["promoted_at"] - run.summary["leader_lost_at"])) < 0.002
        # Patroni stamps the timeline switch once recorded, which may trail the first accepted write a little.
        assert 0 < promoted <= run.summary["rto_seconds"] + 1.0
        assert run.summary["new_leader"] in entries["promoted"]
        first_write = float(entries["first write"].split("T", 1)[1].split(" s", 1)[0])
        assert abs(first_write - run.summary["rto_seconds"]) < 0.002
