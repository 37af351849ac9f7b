"""Replays the seed scenarios end to end through the real HTTP API, as the synthetic personas.

Each probe is one trace: the runner opens a ``Synthetic Probe`` span and sends its W3C
``traceparent`` with every request, so the server's spans (API Gateway, orchestrators, SQL, outbox)
join the probe's trace and ``ProbeResult.trace_id`` finds them all."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
import structlog
from django.conf import settings
from django.utils import timezone
from opentelemetry import context as otel_context
from opentelemetry import propagate

from apps.outbox.events import EventType
from apps.projections.models import ClaimFact
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import ALWAYS_SAMPLE_ATTRIBUTE, tracer

from .chaos_guard import chaos_cover
from .models import ProbeOutcome, ProbeResult, ProbeScenario
from .personas import ProbeIdentity, probe_identities
from .services import probe_result_record
from .telemetry_checks import metrics_read, telemetry_missing

logger = structlog.get_logger(__name__)

PROBE_PERSONA = "synthetic_probe"
PROBE_PAYER = "ACME-HEALTH"
POLL_INTERVAL_SECONDS = 0.25


class ProbeStepFailed(Exception):
    def __init__(self, step: str, detail: str):
        super().__init__(f"{step}: {detail}")
        self.step, self.detail = step, detail


def _describe(response: requests.Response) -> str:
    """Status code and problem title/code only: never echo bodies (they may carry PHI)."""
    description = f"HTTP {response.status_code}"
    if response.headers.get("Content-Type", "").startswith("application/problem+json"):
        try:
            problem = response.json()
        except ValueError:
            return description
        description += f" {problem.get('title', '')}"
        if problem.get("code"):
            description += f" ({problem['code']})"
    return description


@dataclass
class ProbeSession:
    """HTTP calls of one probe, timed step by step, all inside the probe's trace."""

    base_url: str
    identity: ProbeIdentity
    timeout: float
    http: requests.Session = field(default_factory=requests.Session)
    steps: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    current_step: str = ""

    def request(self, method: str, path: str, *, token: str, expect: int, headers=None, **kwargs):
        headers = {"Authorization": f"Token {token}", **(headers or {})}
        propagate.inject(headers)
        response = self.http.request(method, f"{self.base_url}{path}", headers=headers, timeout=self.timeout, **kwargs)
        if response.status_code != expect:
            raise ProbeStepFailed(self.current_step, f"{method} {path} answered {_describe(response)}")
        return response

    def step(self, name: str, action: Callable[[], object]):
        self.current_step = name
        started = time.perf_counter()
        with tracer("pimlab.probes").start_as_current_span(f"{Participant.SYNTHETIC_PROBE}: {name}"):
            value = action()
        self.steps[name] = round(time.perf_counter() - started, 4)
        return value

    def poll(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while not check():
            if time.monotonic() > deadline:
                raise ProbeStepFailed(self.current_step, f"{what} not seen within {self.timeout:g} s")
            time.sleep(POLL_INTERVAL_SECONDS)


# The claim probe's visit starts this soon after booking (the booking must be in the future, the
# finish after the start); the event's publication usually takes longer, so the probe rarely waits.
CLAIM_PROBE_START_SECONDS = 2.0


def _book_and_wait_published(session: ProbeSession, *, requested_start: datetime | None = None) -> int:
    identity = session.identity
    requested_start = requested_start or (timezone.now() + timedelta(days=7)).replace(microsecond=0)

    def book():
        body = {
            "patient_id": str(identity.patient_id),
            "encounter_type": "telehealth",
            "reason": "Synthetic probe booking",
            "requested_start": requested_start.isoformat(),
        }
        response = session.request(
            "POST",
            "/api/encounters",
            token=identity.patient_token,
            expect=202,
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return int(response.json()["id"])

    encounter_id = session.step("book_encounter", book)
    session.resources["encounter_id"] = str(encounter_id)

    def published() -> bool:
        response = session.request("GET", f"/api/encounters/{encounter_id}", token=identity.patient_token, expect=200)
        return bool(response.json().get("event_published"))

    session.step("event_published", lambda: session.poll(f"{EventType.ENCOUNTER_CREATED} on the event bus", published))
    return encounter_id


def probe_encounter_booking(session: ProbeSession) -> None:
    _book_and_wait_published(session)


def probe_clinical_documentation(session: ProbeSession) -> None:
    encounter_id = _book_and_wait_published(session)
    token = session.identity.clinician_token
    path = f"/api/encounters/{encounter_id}/notes"
    etag = session.step("note_read", lambda: session.request("GET", path, token=token, expect=200).headers["ETag"])

    def update():
        body = {"text": "Synthetic probe note. Routine follow-up, no findings.", "status": "draft"}
        response = session.request("PATCH", path, token=token, expect=200, json=body, headers={"If-Match": etag})
        if response.headers.get("ETag") == etag:
            raise ProbeStepFailed("note_update", "the note's version did not change")

    session.step("note_update", update)


def probe_claim_submission(session: ProbeSession) -> None:
    identity = session.identity
    # A visit is finished only once it has started: book a slot a moment ahead, finish after it.
    requested_start = timezone.now() + timedelta(seconds=CLAIM_PROBE_START_SECONDS)
    encounter_id = _book_and_wait_published(session, requested_start=requested_start)

    def finish():
        wait = (requested_start - timezone.now()).total_seconds()
        if wait > 0:
            time.sleep(wait + 0.05)
        return session.request(
            "POST", f"/api/encounters/{encounter_id}/finish", token=identity.clinician_token, expect=200
        )

    session.step("encounter_finish", finish)

    def submit() -> str:
        body = {
            "patient_id": str(identity.patient_id),
            "encounter_id": str(encounter_id),
            "payer_code": PROBE_PAYER,
            "line_items": [{"procedure_code": "99213", "diagnosis_codes": ["I10"], "units": 1, "unit_price": "1.00"}],
        }
        response = session.request(
            "POST",
            "/api/claims",
            token=identity.billing_token,
            expect=202,
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return response.json()["claim_id"]

    claim_id = session.step("claim_submit", submit)
    session.resources["claim_id"] = claim_id
    projected = ClaimFact.objects.using("default").filter(claim_id=int(claim_id), total_amount__isnull=False)
    session.step("claim_projected", lambda: session.poll("the claim in the financial projection", projected.exists))
    session.step(
        "financial_dashboard",
        lambda: session.request("GET", "/api/dashboards/financial", token=identity.billing_token, expect=200),
    )


SCENARIOS: dict[str, Callable[[ProbeSession], None]] = {
    ProbeScenario.ENCOUNTER_BOOKING: probe_encounter_booking,
    ProbeScenario.CLINICAL_DOCUMENTATION: probe_clinical_documentation,
    ProbeScenario.CLAIM_SUBMISSION: probe_claim_submission,
}


def probe_run(*, scenario: str, identity: ProbeIdentity, base_url: str | None = None) -> ProbeResult:
    """Run one scenario on one shard (or record why it was skipped)."""
    base_url = (base_url or settings.PIMLAB_PROBE_BASE_URL).rstrip("/")
    timeout = float(settings.PIMLAB_PROBE_STEP_TIMEOUT_SECONDS)
    shard = identity.shard_alias
    started_at, started = timezone.now(), time.perf_counter()
    context.bind(persona=PROBE_PERSONA, actor_role="system", shard_id=shard)
    common = {"scenario": scenario, "shard_alias": shard, "started_at": started_at, "base_url": base_url}

    cover = chaos_cover(scenario=scenario, shard_alias=shard)
    if cover is not None:
        logger.info("synthetic_probe_skipped", scenario=scenario, chaos_run_id=cover.run_id, target=cover.target)
        return probe_result_record(
            **common,
            outcome=ProbeOutcome.SKIPPED,
            finished_at=timezone.now(),
            duration_seconds=time.perf_counter() - started,
            skip_reason=cover.reason,
            chaos_run_id=cover.run_id,
        )

    session = ProbeSession(base_url=base_url, identity=identity, timeout=timeout)
    outcome, failed_step, error = ProbeOutcome.SUCCESS, "", ""
    missing: list[str] = []
    try:
        metrics_before = metrics_read(base_url, timeout=timeout)
    except (requests.RequestException, ValueError):
        metrics_before = []
    # Each probe run is its own trace (a root span), whatever the caller has current: its
    # ProbeResult.trace_id must find this scenario's spans and no one else's.
    with tracer("pimlab.probes").start_as_current_span(
        Participant.SYNTHETIC_PROBE, context=otel_context.Context(), attributes={ALWAYS_SAMPLE_ATTRIBUTE: True}
    ) as span:
        span.set_attribute("scenario", scenario)
        span.set_attribute("shard_id", shard)
        span.set_attribute("persona", PROBE_PERSONA)
        trace_id = context.current_trace_id() or ""
        try:
            SCENARIOS[scenario](session)
            missing = telemetry_missing(
                scenario=scenario,
                trace_id=trace_id,
                metrics_before=metrics_before,
                metrics_after=lambda: metrics_read(base_url, timeout=timeout),
            )
            if missing:
                raise ProbeStepFailed("telemetry", "missing: " + "; ".join(missing))
        except ProbeStepFailed as failure:
            outcome, failed_step, error = ProbeOutcome.FAILURE, failure.step, failure.detail
        except requests.RequestException as exc:
            outcome, failed_step = ProbeOutcome.FAILURE, session.current_step
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a probe reports every failure as a result; it never crashes the schedule
            outcome, failed_step = ProbeOutcome.FAILURE, session.current_step
            error = f"{type(exc).__name__}: {exc}"
        span.set_attribute("outcome", str(outcome))
        session.http.close()
        duration = time.perf_counter() - started
        logger.info(
            "synthetic_probe_finished",
            scenario=scenario,
            outcome=str(outcome),
            failed_step=failed_step or None,
            duration_seconds=round(duration, 4),
        )
    return probe_result_record(
        **common,
        outcome=outcome,
        finished_at=timezone.now(),
        duration_seconds=duration,
        step_latencies=session.steps,
        failed_step=failed_step,
        error=error,
        trace_id=trace_id,
        resource_ids=session.resources,
        telemetry_missing=missing,
    )


def probe_run_all(*, scenarios: list[str] | None = None, base_url: str | None = None) -> list[ProbeResult]:
    """Every scenario (or the ones named) on every shard that has a synthetic patient."""
    results = []
    identities = probe_identities()
    if not identities:
        logger.warning("synthetic_probes_not_set_up", remediation="run `python manage.py probe_setup`")
    for identity in identities:
        for scenario in scenarios or list(SCENARIOS):
            results.append(probe_run(scenario=scenario, identity=identity, base_url=base_url))
    return results
