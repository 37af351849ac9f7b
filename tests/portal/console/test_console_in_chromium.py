"""The SRE console as SREs use it: Debian's Chromium against a live server on PostgreSQL and Redis,
with a real Celery worker running the drills. Charts are checked by their data, read back from
Chart.js in the page and compared with the SLO engine's series."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connections
from django.utils import timezone

from apps.chaos import services
from apps.chaos.models import ExperimentRun, RunStatus
from apps.core.models import PersonaRole, ShardMapEntry
from apps.slo.selectors import slo_budget_burndown, slo_series, slo_status
from apps.slo.services import slo_evaluate_all
from tests.chaos.conftest import manifest_text, small_manifest
from tests.chaos.test_drill_outcomes import SHARD_0_BUCKET, book, dedicated_broker  # noqa: F401 - fixture
from tests.factories import PatientFactory, persona_user
from tests.probes.conftest import pipeline_workers, probe_world  # noqa: F401 - fixtures
from tests.slo.conftest import STEP, ratio_spec
from tests.support.browser import chromium, log_in, screenshot, serious_axe_violations

from .conftest import celery_worker, person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]
ROOT = Path(__file__).resolve().parents[3]

CHART_DATA_JS = """id => {
  const chart = Chart.getChart(document.getElementById(id));
  return chart ? chart.data.datasets.map(d => ({label: d.label, data: d.data})) : null;
}"""


def database_url(alias: str) -> str:
    config = connections[alias].settings_dict
    return f"postgres://{config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def chaos_worker(tmp_path, dedicated_broker, settings):  # noqa: F811 - the fixture imported above
    """A Celery worker running the drills; the lab's event bus is the drill's own broker, whose pid file
    sits in the lab's run folder (the manifest names the component, never the file or the URL)."""
    _pidfile, bus_url = dedicated_broker
    settings.PIMLAB_EVENTBUS_URL = bus_url
    with celery_worker(tmp_path / "worker.log", PIMLAB_EVENTBUS_URL=bus_url, PIMLAB_RUN_DIR=settings.PIMLAB_RUN_DIR):
        yield dedicated_broker


def signed_in(browser, live_server, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, live_server.url, username)
    return page


def chart_datasets(page, chart_id: str) -> dict:
    page.wait_for_function("id => !!Chart.getChart(document.getElementById(id))", arg=chart_id)
    return {d["label"]: d["data"] for d in page.evaluate(CHART_DATA_JS, chart_id)}


# --- SLOs ---------------------------------------------------------------------------------------


@pytest.fixture
def slo_history(spec_dir, healthz_traffic):
    """Three SLOs on the same traffic: 6 h of 5-minute samples up to now, errors during a drill
    from 4h10 to 5h10 into them (samples carry their own time, so this takes no waiting)."""
    start = timezone.now().replace(microsecond=0) - 72 * STEP
    for name, objective in (("probe-availability", 0.999), ("probe-moderate", 0.95), ("probe-lenient", 0.8)):
        spec_dir.write(name, ratio_spec(name, objective=objective, min_events=10))
    slo_evaluate_all(at=start)
    for index in range(1, 73):
        healthz_traffic(good=12, bad=3 if 50 <= index <= 62 else 0)
        slo_evaluate_all(at=start + index * STEP)
    revision = services.experiment_submit(
        key="api/latency-drill", manifest_text=yaml.safe_dump(small_manifest()), author="sre-author"
    )
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    run = services.run_launch(revision=revision, launched_by="sre-approver")
    ExperimentRun.objects.filter(pk=run.pk).update(
        started_at=start + 50 * STEP, ended_at=start + 62 * STEP, status=RunStatus.COMPLETED, outcome="completed"
    )
    return {"end": start + 72 * STEP, "run": run}


def test_slo_overview_and_slo_page_show_the_engines_series(browser, live_server, slo_history):
    person(PersonaRole.SRE, "sre-author")
    page = signed_in(browser, live_server, "sre-author")
    page.goto(f"{live_server.url}/console/slos")
    rows = page.locator("#slo-table tbody tr")
    assert rows.count() == 3
    # Worst budget first, and the alert state in words, not only in colour.
    assert rows.nth(0).get_attribute("id") == "slo-probe-availability"
    assert "Paging" in rows.nth(0).inner_text() or "Ticket" in rows.nth(0).inner_text()
    assert serious_axe_violations(page) == []
    screenshot(page, "console-slo-overview")

    end = slo_history["end"]
    page.goto(f"{live_server.url}/console/slos/probe-availability?range=6h&end={end.isoformat().replace('+', '%2B')}")
    recent = slo_series("probe-availability", start=end - timedelta(hours=6), end=end, step=timedelta(minutes=3))
    period = slo_budget_burndown("probe-availability", start=end - timedelta(days=30), end=end, step=timedelta(hours=6))
    burn = chart_datasets(page, "chart-burn")
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert burn[window] == [p["burn_rates"][window] for p in recent["points"]], window
    assert max(burn["5m"]) > 14.4  # the drill's errors burn at page level
    events = chart_datasets(page, "chart-events")
    assert events["total"] == [p["window_events"]["5m"]["total"] for p in recent["points"]]
    budget = chart_datasets(page, "chart-budget")
    assert budget["budget remaining (ratio)"] == [p["error_budget_remaining_ratio"] for p in period["points"]]
    assert budget["budget remaining (ratio)"][-1] < 1.0
    # The burn-down ends at the engine's budget left over the period.
    assert (
        budget["budget remaining (ratio)"][-1]
        == slo_status("probe-availability", at=end)["error_budget_remaining_ratio"]
    )
    # Thresholds and the drill's band are on the charts, and the table holds the chart's numbers.
    annotations = page.evaluate(
        "() => Object.keys(Chart.getChart(document.getElementById('chart-burn'))"
        ".options.plugins.annotation.annotations)"
    )
    assert {"threshold0", "threshold1", "threshold2", "threshold3", "band0"} <= set(annotations)
    assert page.locator("#chart-burn-table tbody tr").count() == len(recent["points"])
    assert f"run {slo_history['run'].pk}" in page.inner_text("#chart-budget-title + div + script + figcaption")
    assert "slo:sli_error:ratio_rate5m" in page.inner_text("#slo-rules")
    assert serious_axe_violations(page) == []
    screenshot(page, "console-slo-page")


# --- drills -------------------------------------------------------------------------------------


def eventbus_manifest(pidfile: str, bus_url: str) -> str:
    """The GitOps event bus outage with a shorter hold and a backlog probe first. The lab (settings)
    points `eventbus` at this test's broker: the manifest itself names no pid file and no URL."""
    data = yaml.safe_load(manifest_text("eventbus-outage.yaml"))
    backlog = {"type": "probe", "probe": "outbox_pending", "arguments": {"shard": "shard_0"}}
    method = [{"name": "outbox backlog before", **backlog}]
    for step in data["method"]:
        if step.get("action") == "pause":
            step["arguments"]["seconds"] = 8
        method.append(step)
    data["method"] = method
    return yaml.safe_dump(data, sort_keys=False)


def journal_rows(page) -> int:
    return page.locator("#journal tr.journal-entry").count()


def test_two_sres_run_the_event_bus_outage_from_the_console(browser, live_server, chaos_worker):
    pidfile, bus_url = chaos_worker
    author, approver = person(PersonaRole.SRE, "sre-author"), person(PersonaRole.SRE, "sre-approver")
    patient = PatientFactory(bucket=SHARD_0_BUCKET)
    patient_user, _ = persona_user(PersonaRole.PATIENT, patient=patient)

    # The author submits and dry-runs; their own approval is refused on the page, with the reason.
    page = signed_in(browser, live_server, author.username)
    page.goto(f"{live_server.url}/console/drills/submit")
    page.fill("#id_name", "eventbus-outage")
    page.fill("#id_manifest", eventbus_manifest(str(pidfile), bus_url))
    page.click("#submit-drill")
    page.click("#action-dry-run")
    assert "Validated" in page.inner_text("#revision-status"), page.inner_text("#dry-run-checks")
    assert serious_axe_violations(page) == []
    revision_url = page.url
    page.click("#action-approve")
    assert "author of a revision cannot approve it" in page.inner_text("#refusal")
    assert "Validated" in page.inner_text("#revision-status")

    # A second SRE, in another browser context, approves.
    other = signed_in(browser, live_server, approver.username)
    other.goto(revision_url)
    other.click("#action-approve")
    assert "Approved" in other.inner_text("#revision-status")
    assert approver.username in other.inner_text("#revision-approver")

    # The author launches, confirming the fault, and watches the run live.
    page.goto(revision_url)
    page.click("#action-launch")
    page.check("#confirm-inject")
    page.click("#confirm-launch")
    page.wait_for_url("**/console/drills/runs/*")
    run_url = page.url
    counts, booked, deadline = [], False, time.monotonic() + 120
    while time.monotonic() < deadline:
        counts.append(journal_rows(page))
        if not booked and "freeze the broker" in page.inner_text("#journal"):
            book(patient, patient_user, 3)  # writes during the outage back up in the outbox
            booked = True
        if page.get_attribute("#run-live", "data-status") != "running":
            break
        assert page.locator("#abort-run").is_visible()
        page.wait_for_timeout(500)
    assert page.url == run_url  # htmx swapped the body; the page was never reloaded
    assert booked, counts
    growth = sorted(set(counts))
    assert len(growth) >= 3 and counts == sorted(counts), counts  # the journal grew step by step
    assert page.inner_text("#run-verdict") == "Passed", page.inner_text("#run-live")
    assert page.inner_text("#figure-rollbacks") == "succeeded"

    backlog = chart_datasets(page, "run-chart-0")["outbox_pending (shard_0)"]
    assert [value for value in backlog if value is not None] == [0, 3, 0]  # rose during the outage, drained after
    run = ExperimentRun.objects.get()
    assert run.status == RunStatus.COMPLETED
    page.reload()
    assert page.inner_text("#run-verdict") == "Passed"
    assert serious_axe_violations(page) == []
    screenshot(page, "console-run-report")
    download = page.context.request.get(f"{live_server.url}/console/drills/runs/{run.pk}/journal.json")
    assert download.json()["experiment"]["title"] == "Event bus outage"


def test_a_run_aborted_from_the_page_runs_its_rollbacks(browser, live_server, chaos_worker):
    author, approver = person(PersonaRole.SRE, "sre-author"), person(PersonaRole.SRE, "sre-approver")
    manifest = small_manifest(
        method=[
            {"name": "stale map", "type": "action", "action": "shard_map_stale", "arguments": {"shard": "shard_1"},
             "injection": True},
            {"name": "hold", "type": "action", "action": "pause", "arguments": {"seconds": 60}},
        ],
        rollbacks=[{"name": "restore the map", "type": "action", "action": "shard_map_restore",
                    "arguments": {"shard": "shard_1"}}],
    )  # fmt: skip
    revision = services.experiment_submit(
        key="api/abort-me", manifest_text=yaml.safe_dump(manifest), author=author.username
    )
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver=approver.username)

    page = signed_in(browser, live_server, author.username)
    page.goto(f"{live_server.url}/console/drills/revisions/{revision.pk}/launch")
    page.check("#confirm-inject")
    page.click("#confirm-launch")
    page.wait_for_url("**/console/drills/runs/*")
    page.wait_for_selector("#journal :text('stale map')", timeout=60_000)
    page.fill("#abort-reason", "drill over, back to work")
    page.click("#abort-run")
    page.wait_for_function("() => document.getElementById('run-live').dataset.status !== 'running'", timeout=60_000)
    assert page.inner_text("#run-verdict") == "Aborted"
    assert "drill over, back to work" in page.inner_text("#run-live")
    rollback = page.locator("#journal tr[data-section=rollback]")
    assert rollback.count() == 1 and "succeeded" in rollback.inner_text()
    assert "restore the map" in rollback.inner_text()
    assert set(ShardMapEntry.objects.values_list("shard_alias", flat=True)) == {"shard_0", "shard_1"}
    assert not page.locator("#abort-run").count()  # gone once the run is over


# --- access and accessibility ------------------------------------------------------------------


def test_patient_and_clinician_get_403_on_every_console_url(browser, live_server):
    revision = services.experiment_submit(
        key="api/hidden", manifest_text=yaml.safe_dump(small_manifest()), author="sre-author"
    )
    urls = ["/console/slos", "/console/slos/any", "/console/drills", "/console/drills/submit",
            f"/console/drills/revisions/{revision.pk}", f"/console/drills/revisions/{revision.pk}/launch",
            "/console/probes", "/console/alerts", "/console/docs/docs/runbooks/32_chaos-controller.md"]  # fmt: skip
    for role in (PersonaRole.PATIENT, PersonaRole.CLINICIAN):
        user = person(role, f"{role}-browser")
        page = signed_in(browser, live_server, user.username)
        for url in urls:
            response = page.goto(f"{live_server.url}{url}")
            assert response.status == 403, (role, url)
        assert not page.locator("#nav-links a:text('Drills')").count()


def test_console_lists_pass_axe(browser, live_server):
    from apps.chaos.runner import run_execute
    from apps.probes.models import ProbeResult
    from apps.slo.services import alert_event_record

    person(PersonaRole.SRE, "sre-author")
    revision = services.experiment_submit(
        key="api/axe", manifest_text=yaml.safe_dump(small_manifest()), author="sre-approver"
    )
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-author")
    run = run_execute(run=services.run_launch(revision=revision, launched_by="sre-author"))
    alert_event_record(
        name="ChaosBurnRateBreach", severity="page", status="firing",
        labels={"slo": "booking-availability", "experiment": "api/axe", "shard_id": "shard_1"},
        annotations={"summary": "SLO booking-availability burns at page level during chaos run",
                     "runbook": "docs/runbooks/32_chaos-controller.md"},
    )  # fmt: skip
    now = timezone.now()
    for index, outcome in enumerate(["success", "success", "failure", "skipped", "success"]):
        ProbeResult.objects.create(
            scenario="encounter_booking", shard_alias="shard_0", outcome=outcome,
            started_at=now - timedelta(hours=5 - index), finished_at=now - timedelta(hours=5 - index),
            duration_seconds=0.4, base_url=live_server.url, failed_step="book" if outcome == "failure" else "",
            error="HTTP 503 Service unavailable" if outcome == "failure" else "", trace_id="ab" * 16,
            chaos_run_id=run.pk if outcome == "skipped" else None,
        )  # fmt: skip
    page = signed_in(browser, live_server, "sre-author")
    pages = {
        "console-drills": "/console/drills",
        "console-revision": f"/console/drills/revisions/{revision.pk}",
        "console-probes": "/console/probes",
        "console-alerts": "/console/alerts",
        "console-drill-submit": "/console/drills/submit",
        "console-launch-confirm": f"/console/drills/revisions/{revision.pk}/launch",
    }
    for name, url in pages.items():
        page.goto(f"{live_server.url}{url}")
        assert serious_axe_violations(page) == [], url
        screenshot(page, name)
    assert settings.SHARD_ALIASES


# --- probes -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("probe_world", "pipeline_workers")
def test_run_now_runs_every_probe_in_a_worker_and_the_page_shows_the_results(browser, live_server, tmp_path):
    from apps.probes.models import ProbeOutcome, ProbeResult, ProbeScenario

    person(PersonaRole.SRE, "sre-author")
    expected = len(ProbeScenario.values) * len(settings.SHARD_ALIASES)
    with celery_worker(tmp_path / "worker.log", PIMLAB_PROBE_BASE_URL=live_server.url):
        page = signed_in(browser, live_server, "sre-author")
        page.goto(f"{live_server.url}/console/probes")
        assert "No probe has run yet" in page.inner_text("#probe-strips")
        page.click("#probes-run-now")
        assert "queued" in page.inner_text("#messages")
        deadline = time.monotonic() + 180
        while ProbeResult.objects.count() < expected and time.monotonic() < deadline:
            time.sleep(1)
    page.reload()
    results = list(ProbeResult.objects.all())
    assert len(results) == expected
    assert page.locator("#probe-strips tbody tr").count() == expected
    assert {r.outcome for r in results} == {ProbeOutcome.SUCCESS}, [(r.failed_step, r.error) for r in results]
    assert page.inner_text("#probe-strips").count("✓") == expected
    assert serious_axe_violations(page) == []
