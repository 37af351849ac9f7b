"""http_server_duration_seconds by route, method, status and persona, exported at /metrics."""

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from tests.factories import PatientFactory, persona_user

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.telemetry.urls")]

ROUTE = "probe/<int:patient_id>/"


def count(route, method, status, persona) -> float:
    labels = {"route": route, "method": method, "status": status, "persona": persona}
    return REGISTRY.get_sample_value("http_server_duration_seconds_count", labels) or 0.0


def test_requests_are_counted_by_route_template_status_and_persona():
    patient = PatientFactory(bucket=9)
    _, token = persona_user("billing_admin", username="bill-metrics")
    client = APIClient()
    before_ok = count(ROUTE, "GET", "200", "billing_admin")
    before_401 = count(ROUTE, "GET", "401", "anonymous")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.get(f"/probe/{patient.id}/")
    client.get(f"/probe/{patient.id + 1}/")
    APIClient().get(f"/probe/{patient.id}/")
    assert count(ROUTE, "GET", "200", "billing_admin") == before_ok + 2, "one series for every id of the route"
    assert count(ROUTE, "GET", "401", "anonymous") == before_401 + 1


def test_unmatched_paths_share_one_series():
    before = count("unmatched", "GET", "404", "anonymous")
    APIClient().get("/no/such/path/1")
    APIClient().get("/no/such/path/2")
    assert count("unmatched", "GET", "404", "anonymous") == before + 2


def test_metrics_endpoint_exports_the_histogram_and_django_metrics(client):
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    assert "http_server_duration_seconds_bucket{" in text
    assert 'route="healthz"' in text
    assert "django_http_requests_total_by_method_total" in text
    assert "shard_map_fallback_total" in text
