"""The running observability stack: a real Prometheus and Alertmanager (Debian's packages) with the
repository's configs and rules, scraping a real gunicorn and a real Celery worker. An induced
dead-letter storm fires OutboxDeadLetterStorm in Prometheus, Alertmanager delivers it to the lab's
webhook receiver, and the lab records it with its runbook link; the SLO engine reads that Prometheus."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests
from django.utils import timezone

from apps.outbox.eventbus import stream_for
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.tasks import outbox_relay_fan_out_task
from apps.slo.models import AlertEvent, AlertStatus
from apps.slo.prometheus_reader import PrometheusEventSource
from apps.slo.receiver import alert_receiver_token_ensure
from apps.slo.sources import default_event_source
from apps.slo.specs import load_spec_file
from apps.slo.stack import ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, StackTargets, StackTiming, stack_start
from tests.encounters.conftest import booking_body
from tests.factories import PatientFactory, persona_user
from tests.support.lab_processes import celery_worker, free_port, gunicorn, lab_environment, lab_processes, wait_until

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
STORM = 12  # dead letters; the alert fires at 10 within 5 minutes


def test_promtool_and_amtool_accept_the_checked_in_configs():
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    assert promtool and amtool, "run scripts/ensure_services.sh (installs prometheus and prometheus-alertmanager)"
    checked = subprocess.run([promtool, "check", "config", str(PROMETHEUS_CONFIG)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "lab-alerts.yaml" in checked.stdout + checked.stderr and "slo-rules.yaml" in checked.stdout + checked.stderr
    checked = subprocess.run([amtool, "check-config", str(ALERTMANAGER_CONFIG)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def prometheus_alerts(url: str) -> list[dict]:
    return requests.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]


def test_a_dead_letter_storm_fires_in_prometheus_and_lands_in_the_lab_with_its_runbook(tmp_path, settings):
    token_file = alert_receiver_token_ensure(tmp_path / "alert-receiver-token")
    for folder in ("web-metrics", "worker-metrics"):
        (tmp_path / folder).mkdir()
    worker_port = free_port()
    env = lab_environment(
        PIMLAB_ALERT_RECEIVER_TOKEN_FILE=str(token_file),
        PIMLAB_ALERT_WEBHOOK_URL="",
        PIMLAB_OUTBOX_MAX_ATTEMPTS="1",  # a rejected event is a dead letter at its first failure
    )
    # One patient per booking: a dead letter holds back the later events of its patient (per-patient order).
    # (Each patient books their own visit: the patient persona's booking series exist from the start.)
    patients = [PatientFactory(bucket=3) for _ in range(STORM)]
    tokens = {patient.id: persona_user("patient", patient=patient)[1] for patient in patients}
    bus = redis.Redis.from_url(settings.PIMLAB_EVENTBUS_URL)
    poisoned = stream_for("EncounterCreated")
    bus.delete(poisoned)
    bus.set(poisoned, "not a stream")  # every XADD of a booking event fails with WRONGTYPE: a rejection

    with lab_processes(
        lambda: gunicorn(
            "web", log_dir=tmp_path, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "web-metrics")}
        ),
        lambda: celery_worker(
            f"storm-{uuid.uuid4().hex[:6]}",
            log_dir=tmp_path,
            env={
                **env,
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics"),
                "PIMLAB_WORKER_METRICS_PORT": str(worker_port),
            },
        ),
    ) as processes:
        web = processes[0]
        stack = stack_start(
            directory=tmp_path / "observe",
            targets=StackTargets(
                web=[web.url.removeprefix("http://")],
                worker=[f"127.0.0.1:{worker_port}"],
                receiver_url=f"{web.url}/api/alerts/alertmanager",
            ),
            token_file=token_file,
            prometheus_port=free_port(),
            alertmanager_port=free_port(),
            timing=StackTiming(scrape_interval="1s", evaluation_interval="1s", group_wait="1s", group_interval="2s"),
        )
        try:
            targets = wait_until(
                lambda: [
                    t
                    for t in requests.get(f"{stack.prometheus.url}/api/v1/targets", timeout=5).json()["data"][
                        "activeTargets"
                    ]
                    if t["health"] == "up"
                ],
                timeout=30,
                what="Prometheus to scrape its targets",
                processes=processes,
            )
            wait_until(
                lambda: len(
                    [t for t in requests.get(f"{stack.prometheus.url}/api/v1/targets", timeout=5).json()["data"][
                        "activeTargets"] if t["health"] == "up"]
                ) == 2,
                timeout=30,
                what="both lab targets up",
                processes=processes,
            )  # fmt: skip
            assert {t["labels"]["job"] for t in targets} <= {"pimlab-web", "pimlab-worker"}
            for patient in patients:
                answer = requests.post(
                    f"{web.url}/api/encounters",
                    json=booking_body(patient.id),
                    headers={"Authorization": f"Token {tokens[patient.id]}", "Idempotency-Key": str(uuid.uuid4())},
                    timeout=30,
                )
                assert answer.status_code == 202, answer.text

            def storm_dead_lettered():
                outbox_relay_fan_out_task.apply_async()  # what beat sends every 3 s
                return OutboxEvent.objects.using("shard_0").filter(status=OutboxStatus.DEAD).count() >= STORM

            wait_until(storm_dead_lettered, timeout=60, what="the storm's dead letters", processes=processes)

            firing = wait_until(
                lambda: [
                    a
                    for a in prometheus_alerts(stack.prometheus.url)
                    if a["labels"]["alertname"] == "OutboxDeadLetterStorm" and a["state"] == "firing"
                ],
                timeout=60,
                what="OutboxDeadLetterStorm firing in Prometheus",
                processes=processes,
            )
            assert firing[0]["labels"]["shard_id"] == "shard_0"
            recorded = wait_until(
                lambda: AlertEvent.objects.filter(name="OutboxDeadLetterStorm", status=AlertStatus.FIRING).first(),
                timeout=60,
                what="Alertmanager's notification recorded by the lab",
                processes=processes,
            )
            held = requests.get(f"{stack.alertmanager.url}/api/v2/alerts", timeout=5).json()
            # The SLO engine reads the same Prometheus when PIMLAB_PROMETHEUS_URL points at it.
            settings.PIMLAB_PROMETHEUS_URL = stack.prometheus.url
            source = default_event_source()
            (booking,) = load_spec_file(Path(settings.BASE_DIR) / "slo" / "specs" / "booking-availability.yaml")
            booking_counts = source.counts(booking, window=timedelta(minutes=5), at=timezone.now())
        finally:
            stack.stop()
            bus.delete(poisoned)

    assert recorded.severity == "page"
    assert recorded.labels["shard_id"] == "shard_0" and recorded.labels["alertname"] == "OutboxDeadLetterStorm"
    assert recorded.annotations["runbook_url"] == "docs/runbooks/20_event-outbox-dlq.md"
    assert recorded.annotations["source"] == "alertmanager"
    assert int(recorded.annotations["summary"].split()[0]) >= 10
    assert any(a["labels"]["alertname"] == "OutboxDeadLetterStorm" for a in held)
    assert isinstance(source, PrometheusEventSource)
    assert booking_counts.total >= STORM - 1, booking_counts  # increase() over a fresh counter may miss the first
