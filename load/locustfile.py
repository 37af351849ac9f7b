"""Continuous persona load for the lab: patients booking, clinicians documenting, billing admins
submitting claims, through the HTTP API, each persona with its own token.

The seed names the three personas but no ratio; the mix here is 6 patients : 3 clinicians : 1 billing
admin (patients outnumber the staff who serve them; claims follow finished visits). Each request
carries an Idempotency-Key where the API takes one, and marks itself synthetic (User-Agent and
``X-Pimlab-Synthetic``) so it can be told apart from people. Personas come from
``manage.py load_personas --out FILE`` (the synthetic personas, one patient per shard).

Run: ``make load`` (headless, bounded in time; report beside the run under var/load/). Environment:
``LOAD_PERSONAS`` (the JSON file), ``LOAD_WAIT_MIN``/``LOAD_WAIT_MAX`` (think time, seconds)."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta

from locust import HttpUser, between, task

PERSONAS = json.loads(open(os.environ["LOAD_PERSONAS"]).read())  # noqa: SIM115 - read once per process
THINK = between(float(os.environ.get("LOAD_WAIT_MIN", "1")), float(os.environ.get("LOAD_WAIT_MAX", "3")))
SYNTHETIC = {"User-Agent": "pimlab-locust", "X-Pimlab-Synthetic": "load"}
# Visits the clinicians finished, waiting for a billing admin's claim (one queue per Locust process).
FINISHED_VISITS: deque[tuple[str, str]] = deque(maxlen=1000)


def _headers(token: str, *, idempotent: bool = False, **extra) -> dict:
    headers = {"Authorization": f"Token {token}", **SYNTHETIC, **extra}
    if idempotent:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


def _booking(patient_id, *, start: datetime | None = None) -> dict:
    start = start or datetime.now(UTC) + timedelta(days=random.randint(1, 30))
    return {
        "patient_id": str(patient_id),
        "encounter_type": random.choice(["telehealth", "in_person"]),
        "reason": "Follow-up visit booked by the lab's persona load",
        "requested_start": start.replace(microsecond=0).isoformat(),
    }


class PatientBooking(HttpUser):
    weight = 6
    wait_time = THINK

    def on_start(self):
        self.persona = random.choice(PERSONAS)

    @task
    def book_encounter(self):
        self.client.post(
            "/api/encounters",
            json=_booking(self.persona["patient_id"]),
            headers=_headers(self.persona["patient_token"], idempotent=True),
            name="book encounter",
        )


class ClinicianDocumenting(HttpUser):
    weight = 3
    wait_time = THINK

    def on_start(self):
        self.persona = random.choice(PERSONAS)

    @task
    def document_and_finish(self):
        token, patient_id = self.persona["clinician_token"], self.persona["patient_id"]
        # A visit can be finished once it has started: book it a moment ahead, as a walk-in.
        start = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
        booked = self.client.post(
            "/api/encounters",
            json=_booking(patient_id, start=start),
            headers=_headers(token, idempotent=True),
            name="book encounter (clinician)",
        )
        if booked.status_code != 202:
            return
        encounter_id = booked.json()["id"]
        notes = f"/api/encounters/{encounter_id}/notes"
        read = self.client.get(notes, headers=_headers(token), name="read note")
        if read.status_code != 200:
            return
        self.client.patch(
            notes,
            json={"text": "Reviewed symptoms; plan discussed with the patient.", "status": "draft"},
            headers=_headers(token, **{"If-Match": read.headers.get("ETag", "")}),
            name="update note",
        )
        time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() + 0.2))  # gevent-friendly under Locust
        finished = self.client.post(f"/api/encounters/{encounter_id}/finish", headers=_headers(token), name="finish")
        if finished.status_code == 200:
            FINISHED_VISITS.append((str(patient_id), str(encounter_id)))


class BillingSubmitting(HttpUser):
    weight = 1
    wait_time = THINK

    def on_start(self):
        self.persona = random.choice(PERSONAS)

    @task
    def submit_claim_or_read_dashboard(self):
        if not FINISHED_VISITS:
            self.client.get(
                "/api/dashboards/financial", headers=_headers(self.persona["billing_token"]), name="dashboard"
            )
            return
        patient_id, encounter_id = FINISHED_VISITS.popleft()
        self.client.post(
            "/api/claims",
            json={
                "patient_id": patient_id,
                "encounter_id": encounter_id,
                "payer_code": "ACME-HEALTH",
                "line_items": [
                    {"procedure_code": "99213", "diagnosis_codes": ["I10"], "units": 1, "unit_price": "95.00"}
                ],
            },
            headers=_headers(self.persona["billing_token"], idempotent=True),
            name="submit claim",
        )
