"""/healthz and /readyz: per-dependency detail (for staff), 503 when any dependency is down."""

import pytest
from django.db import connections
from django.test import override_settings

from tests.support.network import unused_port

pytestmark = pytest.mark.django_db(databases="__all__")


def test_healthz_answers_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency_when_all_are_up(admin_client):
    response = admin_client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["failing"] == []
    assert set(body["checks"]) == {
        "database:default",
        "database:shard_0",
        "database:shard_1",
        "database:audit",
        "broker",
        "eventbus",
    }
    for check in body["checks"].values():
        assert check["ok"] is True and check["latency_ms"] >= 0 and check["target"]


def test_a_stopped_database_makes_readyz_503_and_names_it(admin_client):
    connection = connections["shard_1"]
    original_port = connection.settings_dict["PORT"]
    connection.close()
    closed_port = unused_port()
    connection.settings_dict["PORT"] = closed_port
    try:
        response = admin_client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original_port
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready" and body["failing"] == ["database:shard_1"]
    check = body["checks"]["database:shard_1"]
    assert check["ok"] is False and "OperationalError" in check["error"]
    assert f":{closed_port}/" in check["target"]
    assert body["checks"]["database:shard_0"]["ok"] is True


def test_a_stopped_broker_and_event_bus_make_readyz_503(admin_client):
    closed_port = unused_port()
    down = f"redis://127.0.0.1:{closed_port}/0"
    with override_settings(CELERY_BROKER_URL=down, PIMLAB_EVENTBUS_URL=down, PIMLAB_REDIS_URL=down):
        response = admin_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker", "eventbus"]
    assert body["checks"]["broker"]["target"] == f"redis://127.0.0.1:{closed_port}/0"
    assert "password" not in response.content.decode()


def test_targets_never_show_credentials(admin_client):
    with override_settings(PIMLAB_EVENTBUS_URL="redis://:s3cret@127.0.0.1:6379/2"):
        body = admin_client.get("/readyz").json()
    assert "s3cret" not in str(body)


def test_anonymous_and_persona_callers_get_only_up_or_down(client):
    from tests.factories import persona_user

    closed_port = unused_port()
    assert client.get("/readyz").json() == {"status": "ready"}
    user, _ = persona_user("clinician")
    client.force_login(user)
    with override_settings(PIMLAB_REDIS_URL=f"redis://127.0.0.1:{closed_port}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503 and response.json() == {"status": "not_ready"}
