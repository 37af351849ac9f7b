"""Admin pages for every SLO model, the beat schedule and the thin Celery tasks."""

from __future__ import annotations

import pytest

from apps.slo import schedules, tasks
from apps.slo.models import AlertEvent, ServiceLevelObjective, SliSample, TimelineAnnotation
from apps.slo.services import slo_evaluate_all, timeline_annotation_record

from .conftest import EPOCH, STEP, ratio_spec

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def evaluated(spec_dir, healthz_traffic):
    spec_dir.write("probe-availability", ratio_spec("probe-availability", objective=0.999, min_events=0))
    slo_evaluate_all(at=EPOCH)
    healthz_traffic(good=9, bad=1)
    slo_evaluate_all(at=EPOCH + STEP)
    timeline_annotation_record(source="chaos", text="drill started", reference="run-1", occurred_at=EPOCH)


@pytest.mark.parametrize("model", [ServiceLevelObjective, SliSample, AlertEvent, TimelineAnnotation])
def test_admin_lists_and_opens_every_slo_model(admin_client, evaluated, model):
    base = f"/admin/slo/{model._meta.model_name}/"
    listing = admin_client.get(base)
    assert listing.status_code == 200
    obj = model.objects.first()
    assert admin_client.get(f"{base}{obj.pk}/change/").status_code == 200
    assert admin_client.get(base, {"q": "probe"}).status_code == 200


def test_admin_shows_alert_state_and_budget(admin_client, evaluated):
    page = admin_client.get("/admin/slo/servicelevelobjective/").content.decode()
    assert "probe-availability" in page
    assert "page" in page.lower()
    assert "-9,900.0%" in page or "-9900.0%" in page  # 10 % errors spend 100x a 0.1 % budget


def test_admin_reload_action_syncs_the_specs_folder(admin_client, evaluated, spec_dir):
    spec_dir.write("second", ratio_spec("probe-second", objective=0.99))
    response = admin_client.post(
        "/admin/slo/servicelevelobjective/",
        {"action": "reload_specs", "_selected_action": [ServiceLevelObjective.objects.first().pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert ServiceLevelObjective.objects.filter(name="probe-second", enabled=True).exists()


def test_beat_schedule_names_registered_tasks():
    registered = {
        t.name
        for t in (tasks.slo_evaluate_all_task, tasks.alert_events_deliver_pending_task, tasks.sli_samples_prune_task)
    }
    assert {entry["task"] for entry in schedules.BEAT_SCHEDULE.values()} <= registered
    assert schedules.BEAT_SCHEDULE["slo-evaluate-all"]["schedule"] == 30.0


def test_evaluation_task_samples_and_evaluates(spec_dir, healthz_traffic):
    spec_dir.write("probe-availability", ratio_spec("probe-availability", objective=0.999))
    tasks.slo_evaluate_all_task.apply()
    assert SliSample.objects.filter(slo__name="probe-availability").count() == 1
    slo = ServiceLevelObjective.objects.get(name="probe-availability")
    assert slo.last_evaluated_at is not None and slo.last_status["alert_state"] == "ok"


def test_prune_keeps_what_the_window_can_reach(evaluated):
    from datetime import timedelta

    from apps.slo.services import sli_samples_prune

    assert sli_samples_prune(now=EPOCH + timedelta(days=30)) == 0
    assert sli_samples_prune(now=EPOCH + timedelta(days=32)) == 2


def test_admin_sends_an_alert_event_again(admin_client, evaluated, settings, alert_delivery_in_process):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.PIMLAB_ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/"
        event = AlertEvent.objects.get(severity="page")
        admin_client.post(
            "/admin/slo/alertevent/", {"action": "send_again", "_selected_action": [event.pk]}, follow=True
        )
        assert [body["alerts"][0]["labels"]["slo"] for body in received] == ["probe-availability"]
        event.refresh_from_db()
        assert event.delivered_at is not None
    finally:
        server.shutdown()
        server.server_close()
