"""Every log line of a request carries the correlation fields the seed names."""

import re

import pytest
from rest_framework.test import APIClient

from tests.factories import PatientFactory, persona_user
from tests.support.api import api_client
from tests.support.logs import json_log_lines

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.telemetry.urls")]

REQUIRED = ("request_id", "trace_id", "user_id", "persona", "actor_role", "shard_id")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_each_line_of_a_token_request_carries_every_field():
    patient = PatientFactory(bucket=1003)
    user, token = persona_user("clinician", username="doc-logs")
    client = api_client(token)
    with json_log_lines() as lines:
        response = client.get(f"/probe/{patient.id}/")
    assert response.status_code == 200
    body = response.json()
    assert response["X-Request-ID"] == body["request_id"]
    assert [line["event"] for line in lines] == ["request_started", "probe_handled", "request_finished"]
    for line in lines:
        assert all(field in line for field in REQUIRED), line
        assert line["request_id"] == body["request_id"]
        assert HEX32.match(line["trace_id"]) and line["trace_id"] == body["trace_id"]
        assert line["user_id"] == user.pk
        assert line["persona"] == "clinician" and line["actor_role"] == "clinician"
    probe = lines[1]
    assert probe["shard_id"] == "shard_1" and probe["exists"] is True
    assert lines[2]["shard_id"] == "shard_1", "a shard bound mid-request stays bound"
    # No PHI: the patient's names never appear in a log line.
    text = repr(lines)
    assert patient.family_name not in text and patient.given_name not in text


def test_an_anonymous_request_still_has_every_key():
    with json_log_lines() as lines:
        assert APIClient().get("/healthz").status_code == 200
    assert lines, "django-structlog logs the request"
    for line in lines:
        assert all(field in line for field in REQUIRED)
        assert line["persona"] == "anonymous" and line["user_id"] is None and line["shard_id"] is None
        assert line["request_id"] and HEX32.match(line["trace_id"])


def test_a_bad_token_is_logged_as_anonymous_and_refused():
    patient = PatientFactory(bucket=2)
    client = api_client("f" * 40)
    with json_log_lines() as lines:
        assert client.get(f"/probe/{patient.id}/").status_code == 401
    assert lines[0]["event"] == "request_started" and lines[0]["persona"] == "anonymous"


def test_a_session_user_is_identified_from_the_first_line(client):
    user, _ = persona_user("sre", username="sre-logs")
    client.force_login(user)
    with json_log_lines() as lines:
        client.get("/healthz")
    assert lines[0]["event"] == "request_started"
    assert lines[0]["user_id"] == user.pk and lines[0]["persona"] == "sre"
