from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.probes.services import probe_result_record

pytestmark = pytest.mark.django_db(databases="__all__")


def change_link(result) -> str:
    return reverse("admin:probes_proberesult_change", args=[result.pk])


def _result(scenario: str, outcome: str, **extra):
    now = timezone.now()
    return probe_result_record(
        scenario=scenario,
        shard_alias="shard_0",
        outcome=outcome,
        started_at=now - timedelta(seconds=2),
        finished_at=now,
        duration_seconds=2.0,
        base_url="http://127.0.0.1:8000",
        **extra,
    )


def test_results_list_filters_by_outcome_and_scenario(admin_client):
    failed = _result("claim_submission", "failure", failed_step="claim_submit", error="HTTP 503 Unavailable")
    succeeded = _result("encounter_booking", "success", trace_id="a" * 32)
    skipped = _result("encounter_booking", "skipped", skip_reason="chaos run 7 (x) targets shard:shard_0")
    url = reverse("admin:probes_proberesult_changelist")
    page = admin_client.get(url, {"outcome__exact": "failure"})
    html = page.content.decode()
    assert page.status_code == 200 and change_link(failed) in html
    assert change_link(succeeded) not in html and change_link(skipped) not in html
    page = admin_client.get(url, {"scenario__exact": "encounter_booking", "outcome__exact": "skipped"})
    html = page.content.decode()
    assert "chaos run 7" in html and change_link(skipped) in html
    assert change_link(failed) not in html and change_link(succeeded) not in html
    assert admin_client.get(reverse("admin:probes_proberesult_change", args=[failed.pk])).status_code == 200
    assert admin_client.get(reverse("admin:probes_proberesult_change", args=[skipped.pk])).status_code == 200
    assert admin_client.get(reverse("admin:probes_proberesult_add")).status_code == 403


def test_hourly_probe_task_is_in_the_beat_schedule():
    from pimlab_portal.celery import app, collect_beat_schedules

    collect_beat_schedules(app)  # what beat does when it imports its modules
    entry = app.conf.beat_schedule["probes-run-all-hourly"]
    assert entry["task"] == "probes.run_all"
    assert entry["schedule"].minute == {41} and len(entry["schedule"].hour) == 24
    app.loader.import_default_modules()  # the worker's autodiscovery
    assert "probes.run_all" in app.tasks
