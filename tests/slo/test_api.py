"""GET /api/slo, GET /api/slo/{name} (series with timeline annotations), the Grafana annotation
source, the selectors contract the chaos drills use, and the metrics exported at /metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from apps.core.models import PersonaRole
from apps.slo import selectors
from apps.slo.models import AlertEvent
from apps.slo.services import slo_evaluate_all, timeline_annotation_record
from tests.factories import PatientFactory, persona_user
from tests.support.api import api_client

from .conftest import EPOCH, STEP, ratio_spec

pytestmark = pytest.mark.django_db(databases="__all__")

CONTRACT_KEYS = {
    "name",
    "objective",
    "window_days",
    "attainment",
    "error_budget_remaining_ratio",
    "error_budget_remaining_minutes",
    "burn_rates",
    "alert_state",
}


def _api(role: str) -> APIClient:
    patient = PatientFactory() if role == PersonaRole.PATIENT else None
    _, token = persona_user(role, patient=patient)
    client = api_client(token)
    return client


@pytest.fixture
def sre() -> APIClient:
    return _api(PersonaRole.SRE)


@pytest.fixture
def burning(spec_dir, healthz_traffic):
    """One SLO that paged at EPOCH + 5 min (10 % errors) during a chaos drill annotation."""
    spec_dir.write("probe-availability", ratio_spec("probe-availability", objective=0.999, min_events=0))
    spec_dir.write("probe-lenient", ratio_spec("probe-lenient", objective=0.8))
    slo_evaluate_all(at=EPOCH)
    healthz_traffic(good=90, bad=10)
    slo_evaluate_all(at=EPOCH + STEP)
    timeline_annotation_record(
        source="chaos",
        text="failover drill: leader killed",
        tags=["failover", "injection"],
        reference="run-42",
        occurred_at=EPOCH + timedelta(minutes=2),
        ended_at=EPOCH + timedelta(minutes=4),
    )
    timeline_annotation_record(source="deploy", text="outside the range", occurred_at=EPOCH - timedelta(days=2))


def test_slo_list_shows_every_slo_with_budget_burn_and_state(sre, burning, settings):
    response = sre.get("/api/slo")
    assert response.status_code == 200
    by_name = {s["name"]: s for s in response.json()["slos"]}
    assert set(by_name) == {"probe-availability", "probe-lenient"}
    # "now" is far past EPOCH: the live status reads no events in the window.
    assert set(by_name["probe-lenient"]) >= CONTRACT_KEYS
    assert set(by_name["probe-lenient"]["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert by_name["probe-lenient"]["objective"] == 0.8


def test_slo_detail_series_plots_burn_and_budget_with_chaos_annotations(sre, burning):
    response = sre.get(
        "/api/slo/probe-availability",
        {"start": EPOCH.isoformat(), "end": (EPOCH + timedelta(minutes=10)).isoformat(), "step": 300},
    )
    assert response.status_code == 200
    series = response.json()["series"]
    assert [p["t"] for p in series["points"]] == [
        EPOCH.isoformat(),
        (EPOCH + STEP).isoformat(),
        (EPOCH + 2 * STEP).isoformat(),
    ]
    before, during, after = series["points"]
    assert before["burn_rates"]["5m"] == 0.0 and before["alert_state"] == "ok"
    assert during["burn_rates"]["5m"] == pytest.approx(100.0)
    assert during["alert_state"] == "page"
    # 10 bad of 100 against a 0.1 % budget over 30 days: 100x the budget spent.
    assert during["error_budget_remaining_ratio"] == pytest.approx(1 - 0.1 / 0.001)
    assert after["burn_rates"]["1h"] == pytest.approx(100.0)  # no newer sample: the burst is still in the hour
    (annotation,) = series["annotations"]
    assert annotation["source"] == "chaos"
    assert annotation["reference"] == "run-42"
    assert annotation["tags"] == ["failover", "injection"]
    assert [(a["severity"], a["status"]) for a in series["alerts"]] == [("page", "firing"), ("ticket", "firing")]


def test_slo_detail_accepts_unix_seconds(sre, burning):
    start = int(EPOCH.timestamp())
    response = sre.get("/api/slo/probe-availability", {"start": start, "end": start + 600, "step": 60})
    assert response.status_code == 200
    assert len(response.json()["series"]["points"]) == 11


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-03-02T01:00:00Z", "end": "2026-03-02T00:00:00Z"}, "start"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z", "step": 30}, "step"),
        ({"step": 0}, "step"),
    ],
)
def test_slo_detail_rejects_bad_ranges_with_a_problem(sre, burning, params, field):
    response = sre.get("/api/slo/probe-availability", params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert field in body["errors"]
    assert body["remediation"]


def test_unknown_slo_is_a_404_problem(sre, burning):
    response = sre.get("/api/slo/no-such-slo")
    assert response.status_code == 404
    assert response.json()["remediation"].startswith("GET /api/slo")


@pytest.mark.parametrize("role", [PersonaRole.PATIENT, PersonaRole.CLINICIAN, PersonaRole.BILLING_ADMIN])
def test_only_sres_and_operators_read_slos(burning, role):
    assert _api(role).get("/api/slo").status_code == 403
    assert _api(PersonaRole.OPERATOR).get("/api/slo").status_code == 200
    assert APIClient().get("/api/slo").status_code in (401, 403)


def test_grafana_annotation_source_serves_timeline_annotations(sre, burning):
    start_ms = int(EPOCH.timestamp() * 1000)
    response = sre.get("/api/slo-annotations", {"from": start_ms, "to": start_ms + 3_600_000})
    assert response.status_code == 200
    (item,) = response.json()
    assert item["time"] == start_ms + 120_000
    assert item["timeEnd"] == start_ms + 240_000
    assert item["isRegion"] is True
    assert item["tags"] == ["chaos", "failover", "injection"]
    assert "run-42" in item["text"]

    # The JSON datasource's POST /annotations body.
    body = {
        "range": {"from": EPOCH.isoformat(), "to": (EPOCH + timedelta(hours=1)).isoformat()},
        "annotation": {"name": "chaos", "tags": ["failover"]},
    }
    assert len(sre.post("/api/slo-annotations", body, format="json").json()) == 1
    body["annotation"]["tags"] = ["deploy"]
    assert sre.post("/api/slo-annotations", body, format="json").json() == []
    assert sre.get("/api/slo-annotations", {"from": "soon"}).status_code == 400


def test_selectors_contract_for_chaos_drills(burning):
    statuses = selectors.slo_status_list(at=EPOCH + STEP)
    assert {s["name"] for s in statuses} == {"probe-availability", "probe-lenient"}
    status = selectors.slo_status("probe-availability", at=EPOCH + STEP)
    assert set(status) >= CONTRACT_KEYS
    assert status["alert_state"] in ("ok", "ticket", "page")
    assert status["alert_state"] == "page"
    assert status["window_days"] == 30
    assert set(status["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert all(isinstance(v, float) for v in status["burn_rates"].values())
    with pytest.raises(selectors.SloNotFound):
        selectors.slo_status("no-such-slo")


def test_metrics_export_slo_figures_and_alert_transitions(client, burning):
    text = client.get("/metrics").content.decode()
    assert 'slo_alert_firing{service="probes",severity="page",slo="probe-availability"} 1.0' in text
    assert 'slo_alert_firing{service="probes",severity="page",slo="probe-lenient"} 0.0' in text
    assert 'slo_burn_rate{service="probes",slo="probe-availability",window="5m"} 100.0' in text
    assert 'slo_objective_ratio{service="probes",slo="probe-lenient"} 0.8' in text
    assert 'slo_alert_events_total{alertname="SLOErrorBudgetBurn",severity="page",status="firing"} 1.0' in text


def test_openapi_schema_documents_the_slo_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert {"/api/slo", "/api/slo/{name}", "/api/slo-annotations"} <= set(schema["paths"])
    assert "SloStatus" in schema["components"]["schemas"]


def test_an_unreachable_prometheus_is_a_503_problem_not_a_500(sre, burning, settings):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.PIMLAB_PROMETHEUS_URL = f"http://127.0.0.1:{port}"
    for path in ("/api/slo", "/api/slo/probe-availability"):
        response = sre.get(path)
        assert response.status_code == 503
        assert response["Content-Type"] == "application/problem+json"
        assert "PIMLAB_PROMETHEUS_URL" in response.json()["remediation"]
    # An evaluation round keeps the alert state rather than resolving on missing data.
    assert slo_evaluate_all() == []
    assert AlertEvent.objects.filter(status="resolved").count() == 0
