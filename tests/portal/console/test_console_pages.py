"""The SRE console through Django's test client: engine figures on the SLO pages, governed drill
actions through the chaos services, refusals shown on the page, access by role, pinned query counts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.chaos import services
from apps.chaos.models import ExperimentRevision, ExperimentRun, RevisionStatus, RunStatus
from apps.chaos.runner import run_execute
from apps.core.models import PersonaRole
from apps.probes.models import ProbeOutcome, ProbeResult
from apps.slo.models import ServiceLevelObjective, SliSample
from apps.slo.selectors import slo_budget_consumed, slo_series, slo_status, slo_status_list
from apps.slo.services import alert_event_record, slo_evaluate_all, timeline_annotation_record
from tests.chaos.conftest import small_manifest
from tests.slo.conftest import EPOCH, STEP, ratio_spec

from .conftest import person

pytestmark = pytest.mark.django_db(databases="__all__")

CONSOLE_GETS = ["console-slos", "console-drills", "console-probes", "console-alerts", "console-drill-submit"]


@pytest.fixture
def burning(spec_dir, healthz_traffic):
    """Two SLOs; one pages at EPOCH + 5 min (10 % errors), with a chaos run overlapping it."""
    spec_dir.write("probe-availability", ratio_spec("probe-availability", objective=0.999, min_events=0))
    spec_dir.write("probe-lenient", ratio_spec("probe-lenient", objective=0.8))
    slo_evaluate_all(at=EPOCH)
    healthz_traffic(good=90, bad=10)
    slo_evaluate_all(at=EPOCH + STEP)
    timeline_annotation_record(source="chaos", text="drill", occurred_at=EPOCH + timedelta(minutes=2))


def submitted(*, key="api/console-test", author="sre-author", **changes) -> ExperimentRevision:
    return services.experiment_submit(key=key, manifest_text=yaml.safe_dump(small_manifest(**changes)), author=author)


def test_slo_overview_shows_the_engines_figures_worst_budget_first(sre_client, burning):
    at_engine = {s["name"]: s for s in slo_status_list()}
    page = sre_client.get(reverse("console-slos")).content.decode()
    assert page.index("slo-probe-availability") < page.index("slo-probe-lenient")  # budget ascending
    status = at_engine["probe-availability"]
    assert f"{status['error_budget_remaining_ratio']:.2%}" in page
    assert f"{status['attainment']:.4%}" in page
    assert "page 1h/5m" in page and "ticket 3d/6h" in page
    by_name = sre_client.get(reverse("console-slos") + "?sort=name").content.decode()
    assert by_name.index("slo-probe-availability") < by_name.index("slo-probe-lenient")
    descending = sre_client.get(reverse("console-slos") + "?sort=name&dir=desc").content.decode()
    assert descending.index("slo-probe-lenient") < descending.index("slo-probe-availability")


def test_slo_page_charts_hold_the_engines_series_and_the_rules(sre_client, burning):
    end = EPOCH + STEP
    response = sre_client.get(
        reverse("console-slo", args=["probe-availability"]), {"range": "1h", "end": end.isoformat()}
    )
    assert response.status_code == 200
    charts = {c["id"]: c["spec"] for c in response.context["charts"]}
    recent = slo_series("probe-availability", start=end - timedelta(hours=1), end=end, step=timedelta(seconds=30))
    burn = {d["label"]: d["data"] for d in charts["chart-burn"]["datasets"]}
    assert burn["5m"] == [p["burn_rates"]["5m"] for p in recent["points"]]
    assert max(burn["5m"]) > 14.4
    assert [t["value"] for t in charts["chart-burn"]["thresholds"]] == [14.4, 6.0, 3.0, 1.0]
    events = {d["label"]: d["data"] for d in charts["chart-events"]["datasets"]}
    assert events["total"] == [p["window_events"]["5m"]["total"] for p in recent["points"]]
    page = response.content.decode()
    assert "slo:sli_error:ratio_rate5m" in page and "SLOErrorBudgetBurn" in page
    assert 'id="chart-budget-data"' in page


def test_slo_page_draws_chaos_runs_as_bands(sre_client, burning):
    revision = submitted()
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    run = services.run_launch(revision=revision, launched_by="sre-approver")
    ExperimentRun.objects.filter(pk=run.pk).update(
        started_at=EPOCH + timedelta(minutes=1), ended_at=EPOCH + timedelta(minutes=3), status=RunStatus.COMPLETED
    )
    end = EPOCH + STEP
    response = sre_client.get(
        reverse("console-slo", args=["probe-availability"]), {"range": "1h", "end": end.isoformat()}
    )
    for chart in response.context["charts"]:
        assert [b["run_id"] for b in chart["spec"]["bands"]] == [run.pk], chart["id"]


def test_unknown_slo_is_a_404_and_a_bad_end_a_400(sre_client, burning):
    assert sre_client.get(reverse("console-slo", args=["nope"])).status_code == 404
    response = sre_client.get(reverse("console-slo", args=["probe-availability"]), {"end": "yesterday"})
    assert response.status_code == 400
    assert "ISO 8601" in response.content.decode()


def test_author_cannot_approve_and_sees_why_a_second_sre_can(client, sre, second_sre):
    revision = submitted(author=sre.username)
    client.force_login(sre)
    assert client.post(reverse("console-revision-dry-run", args=[revision.pk])).status_code == 302
    refused = client.post(reverse("console-revision-approve", args=[revision.pk]))
    assert refused.status_code == 409
    assert "author of a revision cannot approve it" in refused.content.decode()
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.VALIDATED
    client.force_login(second_sre)
    assert client.post(reverse("console-revision-approve", args=[revision.pk])).status_code == 302
    revision.refresh_from_db()
    assert (revision.status, revision.approved_by) == (RevisionStatus.APPROVED, second_sre.username)


def test_launch_needs_confirmation_and_the_report_shows_the_run(
    client, sre, second_sre, django_capture_on_commit_callbacks
):
    revision = submitted(author=sre.username)
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver=second_sre.username)
    client.force_login(sre)
    url = reverse("console-revision-launch", args=[revision.pk])
    assert "injects a fault" in client.get(url).content.decode()
    unconfirmed = client.post(url)
    assert unconfirmed.status_code == 400 and not ExperimentRun.objects.exists()
    with django_capture_on_commit_callbacks() as callbacks:  # the worker hand-off, not run here
        launched = client.post(url, {"confirm": "inject"})
    run = ExperimentRun.objects.get()
    assert launched.status_code == 302 and launched.url == reverse("console-run", args=[run.pk])
    assert len(callbacks) == 1
    live = client.get(reverse("console-run-live", args=[run.pk]))
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.content.decode()
    run_execute(run=run)
    done = client.get(reverse("console-run-live", args=[run.pk]))
    assert done.status_code == 286  # htmx stops polling
    report = client.get(reverse("console-run", args=[run.pk])).content.decode()
    assert "Passed" in report and "rollback pause" in report
    journal = json.loads(client.get(reverse("console-run-journal", args=[run.pk])).content)
    assert journal["experiment"]["version"] == "1.0.0"  # the Chaos Toolkit export of the revision
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["rollback pause"]
    closed = client.post(reverse("console-run-close", args=[run.pk]), {"adr_ref": "docs/ADR/nowhere.md"})
    assert closed.status_code == 409
    closed = client.post(
        reverse("console-run-close", args=[run.pk]), {"adr_ref": "docs/ADR/ADR-012-chaos-governance.md"}
    )
    assert closed.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CLOSED


def test_abort_of_a_finished_run_is_refused_with_the_reason(client, sre, second_sre):
    revision = submitted(author=sre.username)
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver=second_sre.username)
    run = run_execute(run=services.run_launch(revision=revision, launched_by=sre.username))
    client.force_login(sre)
    response = client.post(reverse("console-run-abort", args=[run.pk]))
    assert response.status_code == 409 and "not running" in response.content.decode()


def test_kill_switch_needs_a_reason_and_blocks_launches(client, sre, second_sre):
    client.force_login(sre)
    client.post(reverse("console-kill-switch"), {"engaged": "on"})
    assert "Enter why" in client.get(reverse("console-drills")).content.decode()
    client.post(reverse("console-kill-switch"), {"engaged": "on", "reason": "incident 42"})
    revision = submitted(author=second_sre.username)
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver=sre.username)
    refused = client.post(reverse("console-revision-launch", args=[revision.pk]), {"confirm": "inject"})
    assert refused.status_code == 409 and "kill switch" in refused.content.decode().lower()
    client.post(reverse("console-kill-switch"), {"engaged": "off"})
    assert "released" in client.get(reverse("console-drills")).content.decode()


def test_submit_form_explains_errors_and_records_a_draft(client, sre):
    client.force_login(sre)
    bad = client.post(reverse("console-drill-submit"), {"name": "Not A Slug", "manifest": ""})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "There is a problem" in text and "Enter the manifest" in text and "<title>Error: " in text
    good = client.post(
        reverse("console-drill-submit"), {"name": "console-submitted", "manifest": yaml.safe_dump(small_manifest())}
    )
    revision = ExperimentRevision.objects.get(experiment__key="api/console-submitted")
    assert good.url == reverse("console-revision", args=[revision.pk]) and revision.author == sre.username


def test_drill_list_tells_what_the_profile_lacks(sre_client):
    submitted(
        key="api/needs-ha",
        blast_radius={"targets": [{"kind": "ha_cluster", "name": "pimlab-ha"}], "max_patient_share": 0.5,
                      "max_traffic_share": 0.5},
    )  # fmt: skip
    page = sre_client.get(reverse("console-drills")).content.decode()
    assert "python manage.py lab_ha up" in page


def test_alerts_and_probes_pages_show_their_rows(sre_client, burning):
    alert_event_record(
        name="ChaosBurnRateBreach",
        severity="page",
        status="firing",
        labels={"slo": "probe-availability", "experiment": "api/x"},
        annotations={"summary": "burning", "runbook": "docs/runbooks/32_chaos-controller.md"},
    )
    page = sre_client.get(reverse("console-alerts")).content.decode()
    assert "ChaosBurnRateBreach" in page and reverse("console-slo", args=["probe-availability"]) in page
    assert "drill run" not in page  # no run of api/x exists
    assert reverse("console-doc", args=["docs/runbooks/32_chaos-controller.md"]) in page
    assert sre_client.get(reverse("console-doc", args=["docs/runbooks/32_chaos-controller.md"])).status_code == 200
    assert sre_client.get(reverse("console-doc", args=["pimlab_portal/settings/base.py"])).status_code == 404
    _probe_result(ProbeOutcome.FAILURE, trace_id="ab" * 16)
    probes = sre_client.get(reverse("console-probes")).content.decode()
    assert "✗" in probes and reverse("portal-trace", args=["ab" * 16]) in probes


def _probe_result(outcome, **fields):
    from django.utils import timezone

    now = timezone.now()
    return ProbeResult.objects.create(
        scenario="encounter_booking", shard_alias="shard_0", outcome=outcome, started_at=now, finished_at=now,
        duration_seconds=0.2, base_url="http://testserver", failed_step="book", error="HTTP 503", **fields,
    )  # fmt: skip


@pytest.mark.parametrize("role", [PersonaRole.PATIENT, PersonaRole.CLINICIAN])
def test_patients_and_clinicians_get_403_on_every_console_url(client, role):
    client.force_login(person(role, f"{role}-denied"))
    revision = submitted()
    for name in CONSOLE_GETS:
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("console-revision", args=[revision.pk])).status_code == 403
    assert client.post(reverse("console-revision-approve", args=[revision.pk])).status_code == 403
    assert client.post(reverse("console-kill-switch"), {"engaged": "on", "reason": "x"}).status_code == 403


def test_operators_read_but_do_not_act(client, operator):
    client.force_login(operator)
    assert client.get(reverse("console-drills")).status_code == 200
    assert client.post(reverse("console-probes-run")).status_code == 403


def _rows(count: int, *, first: int = 0):
    for index in range(first, first + count):
        revision = submitted(key=f"api/pinned-{index}")
        services.revision_dry_run(revision=revision)
        services.revision_approve(revision=revision, approver="sre-approver")
        run_execute(run=services.run_launch(revision=revision, launched_by="sre-approver"))
        alert_event_record(name="X", severity="page", status="firing", labels={"slo": "probe-availability"})
        _probe_result(ProbeOutcome.SUCCESS)


@pytest.mark.parametrize("name", ["console-drills", "console-alerts", "console-probes", "console-slos"])
def test_list_pages_have_pinned_query_counts(sre_client, burning, django_assert_max_num_queries, name):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connections["default"]) as queries:
            assert sre_client.get(reverse(name)).status_code == 200
        return len(queries)

    _rows(1)
    one = count()
    _rows(3, first=1)
    assert count() == one, f"{name}: queries grow with rows"
    with django_assert_max_num_queries(PINNED[name]):
        sre_client.get(reverse(name))


PINNED = {"console-drills": 8, "console-alerts": 5, "console-probes": 4, "console-slos": 5}


def test_live_burn_series_is_the_engines_burn_rate_of_that_window(burning):
    """The run page's burn chart reads one window of every SLO; it equals slo_series for that window."""
    from apps.slo.selectors import slo_burn_series

    start, end, step = EPOCH - STEP, EPOCH + 2 * STEP, timedelta(minutes=1)
    series = slo_burn_series(window="5m", start=start, end=end, step=step)
    live = {s["name"]: [p["burn_rate"] for p in s["points"]] for s in series}
    for name in ("probe-availability", "probe-lenient"):
        full = slo_series(name, start=start, end=end, step=step)
        assert live[name] == [p["burn_rates"]["5m"] for p in full["points"]], name
    assert max(live["probe-availability"]) > 14.4


def test_alerts_name_the_drill_run_they_belong_to(sre_client):
    revision = submitted()
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    run = run_execute(run=services.run_launch(revision=revision, launched_by="sre-approver"))
    alert_event_record(
        name="ChaosBurnRateBreach", severity="page", status="firing",
        labels={"slo": "probe-availability", "experiment": "api/console-test"}, annotations={"summary": "burn"},
    )  # fmt: skip
    alert_event_record(name="Elsewhere", severity="ticket", status="firing", labels={"experiment": "api/other"})
    page = sre_client.get(reverse("console-alerts")).content.decode()
    assert page.count(f'href="{reverse("console-run", args=[run.pk])}"') == 1
    assert "drill api/other" in page


def test_an_unreachable_prometheus_is_explained_on_the_slo_pages(sre_client, burning, settings):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.PIMLAB_PROMETHEUS_URL = f"http://127.0.0.1:{port}"
    for url in (reverse("console-slos"), reverse("console-slo", args=["probe-availability"])):
        response = sre_client.get(url)
        assert response.status_code == 503, url
        text = response.content.decode()
        assert "SLI source unavailable" in text and "PIMLAB_PROMETHEUS_URL" in text


def attempts_log(path, *, per_second: int, seconds: int, failing_every: int) -> None:
    lines = []
    for i in range(per_second * seconds):
        start = 1_700_000_000 + i / per_second
        ok = i % failing_every != 0
        lines.append(json.dumps({"start": start, "end": start + 0.05, "ok": ok, "id": str(i)}))
    path.write_text("\n".join(lines) + "\n")


def workload_charts(response) -> dict:
    specs = {c["spec"]["title"]: c["spec"] for c in response.context["charts"]}
    return {
        title: specs[title]["datasets"][0]["data"]
        for title in ("Workload request rate", "api_error_ratio of the workload", "p99 latency of the workload")
    }


def test_the_reports_workload_charts_are_frozen_when_the_run_ends(client, sre, tmp_path):
    """The attempts file is scratch: once the run ended, rewriting or deleting it changes no number."""
    from apps.chaos.registry import action
    from tests.chaos.conftest import approved_run

    attempts = tmp_path / "attempts.jsonl"
    attempts_log(attempts, per_second=4, seconds=3, failing_every=4)

    @action("test_console_workload_log")
    def attach(ctx, path: str):
        return {"attempts_file": path}

    run = run_execute(
        run=approved_run(
            key="api/frozen-workload",
            method=[
                {
                    "name": "workload",
                    "type": "action",
                    "action": "test_console_workload_log",
                    "arguments": {"path": str(attempts)},
                }
            ],
        )
    )
    assert run.status == RunStatus.COMPLETED
    assert len(run.summary["workload_series"]) == 3
    client.force_login(sre)
    url = reverse("console-run", args=[run.pk])
    frozen = workload_charts(client.get(url))
    assert frozen["Workload request rate"] == [4.0, 4.0, 4.0]
    assert frozen["api_error_ratio of the workload"] == [0.25, 0.25, 0.25]
    attempts_log(attempts, per_second=10, seconds=5, failing_every=2)  # the samples change…
    assert workload_charts(client.get(url)) == frozen
    attempts.unlink()  # …or are gone
    assert workload_charts(client.get(url)) == frozen


def burn_chart(response) -> dict:
    spec = next(c["spec"] for c in response.context["charts"] if c["spec"]["title"].startswith("SLO burn rate"))
    return {d["label"]: d["data"] for d in spec["datasets"]}


def test_the_reports_slo_burn_chart_is_frozen_when_the_run_ends(client, sre, burning, healthz_traffic):
    """The SLO chart of a finished run shows what the engine saw at its end: samples recorded later
    for moments inside the run (a late scrape, a backfill) change the live series, not the report."""
    from apps.chaos.selectors import burn_series_over
    from tests.chaos.conftest import approved_run

    healthz_traffic(good=100)
    slo_evaluate_all()  # a sample just before the run: its window has a near baseline
    run = run_execute(run=approved_run(key="api/frozen-burn"))
    assert run.status == RunStatus.COMPLETED and run.summary["slo_burn_series"]
    client.force_login(sre)
    url = reverse("console-run", args=[run.pk])
    frozen = burn_chart(client.get(url))
    assert set(frozen) == {"probe-availability", "probe-lenient"}

    healthz_traffic(bad=50)  # errors, sampled for a moment inside the run after it ended
    slo_evaluate_all(at=run.ended_at - timedelta(milliseconds=1))
    live = burn_series_over(started_at=run.started_at, ended_at=run.ended_at)
    assert live[0]["points"][-1]["t"] == run.ended_at.isoformat()  # the chart reaches the run's end
    assert {s["name"]: [p["burn_rate"] for p in s["points"]] for s in live} != frozen
    assert burn_chart(client.get(url)) == frozen


def test_the_report_shows_the_budget_consumed_the_slo_selector_computes(client, sre, second_sre, burning):
    revision = submitted(author=sre.username)
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver=second_sre.username)
    run = run_execute(run=services.run_launch(revision=revision, launched_by=sre.username, enqueue=False))
    ExperimentRun.objects.filter(pk=run.pk).update(started_at=EPOCH, ended_at=EPOCH + STEP)
    client.force_login(sre)
    response = client.get(reverse("console-run", args=[run.pk]))
    rows = slo_budget_consumed(start=EPOCH, end=EPOCH + STEP)
    assert response.context["budget"] == rows
    burnt = next(r for r in rows if r["name"] == "probe-availability")
    assert burnt["consumed"] > 0
    assert f"{burnt['consumed']:.6f}" in response.content.decode()


def sample_rows_read(queries) -> int:
    """Rows of the sampler's table the captured queries read (each run again, as it was sent)."""
    rows = 0
    with connections["default"].cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if sql.lstrip().upper().startswith("SELECT") and '"slo_slisample"' in sql:
                cursor.execute(sql)
                rows += len(cursor.fetchall())
    return rows


def test_the_slo_page_reads_the_samples_of_the_period_it_plots_once(sre_client, spec_dir):
    """A 7-day SLO sampled every 30 min for 21 days: the page plots 7 days (and a 6 h range), so it reads
    the samples of those 7 days (and the hour before) once, not those of 14 days before them."""
    spec_dir.write("week", ratio_spec("week", objective=0.99, window_days=7))
    slo_evaluate_all(at=EPOCH)  # syncs the spec (and takes one sample)
    slo = ServiceLevelObjective.objects.get(name="week")
    SliSample.objects.filter(slo=slo).delete()
    end = EPOCH + timedelta(days=21)
    SliSample.objects.bulk_create(
        SliSample(slo=slo, taken_at=EPOCH + i * timedelta(minutes=30), total_events=100.0 * i, bad_events=float(i))
        for i in range(21 * 48 + 1)
    )
    plotted = SliSample.objects.filter(slo=slo, taken_at__gte=end - timedelta(days=7, hours=1)).count()
    with CaptureQueriesContext(connections["default"]) as queries:
        response = sre_client.get(reverse("console-slo", args=["week"]), {"range": "6h", "end": end.isoformat()})
    assert response.status_code == 200
    assert sample_rows_read(queries.captured_queries) <= plotted + 10  # + the few the page's lookups return
    # The same figures as the engine's: the burn-down ends at the budget left over the period.
    budget = {d["label"]: d["data"] for d in response.context["charts"][0]["spec"]["datasets"]}
    status = slo_status("week", at=end)
    assert budget["budget remaining (ratio)"][-1] == status["error_budget_remaining_ratio"]
    assert response.context["status"]["attainment"] == status["attainment"]
    assert budget["budget remaining (ratio)"][0] == 1.0  # nothing burnt at the start of the period
