"""One trace, many processes: a booking served by one gunicorn server, its trace page fetched through
another, shows the spans of the Celery relay and of the projection worker (the shared trace store)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from apps.telemetry.participants import Participant
from apps.telemetry.tracing import shared_trace_store
from tests.encounters.conftest import booking_body
from tests.factories import PatientFactory, persona_user
from tests.support.browser import chromium, screenshot
from tests.support.lab_processes import (
    celery_worker,
    gunicorn,
    lab_environment,
    lab_processes,
    projection_worker,
    wait_until,
)

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
PASSWORD = "trace-page-pass"


def logged_in_session(base_url: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base_url}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=10,
    )
    assert answer.ok and "sessionid" in session.cookies, answer.text[-500:]
    return session


def waterfall_in_chromium(base_url: str, username: str, trace_id: str) -> list[tuple[float, float]]:
    """The trace page as an SRE sees it (a screenshot under docs/screenshots/): the bars' geometry."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base_url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_load_state("networkidle")
        page.goto(f"{base_url}/traces/{trace_id}")
        screenshot(page, "console-trace-waterfall")
        return [
            (float(bar.get_attribute("x")), float(bar.get_attribute("width")))
            for bar in page.query_selector_all("svg.span-bar rect.bar")
        ]


def test_a_booking_trace_shows_relay_and_projection_spans_through_another_server(tmp_path):
    store = shared_trace_store()
    assert store is not None, "the test profile exports spans to its Redis db"
    store.clear()
    patient = PatientFactory(bucket=3)
    _, patient_token = persona_user("patient", patient=patient)
    sre, _ = persona_user("sre")
    sre.set_password(PASSWORD)
    sre.save()
    env = lab_environment()

    with lab_processes(
        lambda: gunicorn("web-a", log_dir=tmp_path, env=env),
        lambda: gunicorn("web-b", log_dir=tmp_path, env=env),
        lambda: celery_worker(f"relay-{uuid.uuid4().hex[:6]}", log_dir=tmp_path, env=env),
        lambda: projection_worker("projection-trace-test", log_dir=tmp_path, env=env),
    ) as processes:
        web_a, web_b = processes[0], processes[1]
        answer = requests.post(
            f"{web_a.url}/api/encounters",
            json=booking_body(patient.id),
            headers={"Authorization": f"Token {patient_token}", "Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        trace_id = answer.headers.get("traceparent", "").split("-")[1] if answer.headers.get("traceparent") else ""
        trace_id = trace_id or wait_until(
            lambda: next((s["trace_id"] for s in store.recent(200) if s["name"] == Participant.OUTBOX_WRITER), None),
            timeout=30,
            what="the booking's spans in the trace store",
            processes=processes,
        )
        wanted = {
            Participant.API_GATEWAY,
            Participant.PATIENT_ORCHESTRATOR,
            Participant.OUTBOX_WRITER,
            Participant.OUTBOX_RELAY,
            Participant.EVENT_BUS,
            Participant.PROJECTION_WORKER,
        }

        def complete():
            return wanted <= {span["name"] for span in store.trace(trace_id)} and store.trace(trace_id)

        spans = wait_until(complete, timeout=60, what="relay and projection spans", processes=processes)
        session = logged_in_session(web_b.url, sre.username)
        page = session.get(f"{web_b.url}/traces/{trace_id}", timeout=30)
        bars = waterfall_in_chromium(web_b.url, sre.username, trace_id)

    assert page.status_code == 200, page.text[-1000:]
    for name in wanted:
        assert name in page.text
    roles_by_name = {span["name"]: (span["process_role"], span["pid"]) for span in spans}
    web_pid = roles_by_name[Participant.OUTBOX_WRITER]
    assert web_pid[0] == "web"
    assert roles_by_name[Participant.EVENT_BUS][0] == "worker"
    assert roles_by_name[Participant.PROJECTION_WORKER][0] == "projection-worker"
    assert len({pid for _, pid in roles_by_name.values()}) >= 3, roles_by_name
    # One bar per span, each inside the timeline, drawn without inline style (the CSP allows none).
    assert len(bars) == page.text.count('class="bar') > len(wanted)
    assert all(0 <= x <= 100 and 0 < width <= 100 for x, width in bars)
    # web-b's own worker served the page, yet the spans of web-a's worker are there.
    assert f"web {web_pid[1]}" in page.text
