"""The failure-mode alerts (dashboards/prometheus/lab-alerts.yaml): promtool accepts them, each has a
runbook that exists and a promtool unit test, and the unit tests fail when a threshold is wrong."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

PROMETHEUS_DIR = Path(settings.BASE_DIR) / "dashboards" / "prometheus"
RULES = PROMETHEUS_DIR / "lab-alerts.yaml"
UNIT_TESTS = PROMETHEUS_DIR / "tests" / "lab-alerts-test.yaml"
FAILURE_MODES = {
    "OutboxDeadLetterStorm",  # FR-14.5
    "OutboxDeadLettersWaiting",
    "AuditBufferAging",  # NFR-20
    "AuditBufferDeep",
    "AuditChainBroken",
    "AuditWriteLatencyHigh",  # NFR-09
    "SQLFailoverRTOExceeded",
    "SQLFailoverNotCompleting",
    "ProjectionBacklogGrowing",
    "ProjectionBacklogOverThreshold",
    "ProjectionPoisonMessages",
    "SyntheticProbeFailing",
    "ChaosRunOrphaned",
    "LabTargetDown",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run scripts/ensure_services.sh (installs Debian's prometheus package)"
    return path


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"] if "alert" in rule]


def promtool_run(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, check=False, timeout=120)


def test_promtool_accepts_the_rules(promtool):
    result = promtool_run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_failure_mode_has_an_alert_with_an_existing_runbook_and_a_unit_test():
    by_name = {rule["alert"]: rule for rule in alerts()}
    assert set(by_name) == FAILURE_MODES
    tested = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert tested == FAILURE_MODES, "each alert has a unit test in which it fires"
    for name, rule in by_name.items():
        runbook = rule["annotations"]["runbook_url"]
        assert (Path(settings.BASE_DIR) / runbook).is_file(), f"{name}: runbook {runbook} is missing"
        assert rule["labels"]["severity"] in {"page", "ticket", "critical"}, name


def test_promtool_unit_tests_pass(promtool):
    result = promtool_run(promtool, "test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_the_audit_latency_alert_uses_the_one_nfr09_threshold():
    rule = next(r for r in alerts() if r["alert"] == "AuditWriteLatencyHigh")
    assert f"> {settings.PIMLAB_AUDIT_WRITE_LATENCY_THRESHOLD_SECONDS:g}" in rule["expr"]
    spec = yaml.safe_load((Path(settings.BASE_DIR) / "slo" / "specs" / "audit-write-latency.yaml").read_text())
    good_query = spec["spec"]["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"]["spec"]["query"]
    assert f'le="{settings.PIMLAB_AUDIT_WRITE_LATENCY_THRESHOLD_SECONDS:g}"' in good_query


@pytest.mark.parametrize(
    ("original", "broken", "failing_case"),
    [
        (
            "increase(outbox_dead_lettered_total[5m])) >= 10",
            "increase(outbox_dead_lettered_total[5m])) >= 20",
            "dead-letter storm",
        ),
        ("(chaos_run_heartbeat_age_seconds) > 120", "(chaos_run_heartbeat_age_seconds) > 600", "orphaned"),
    ],
)
def test_the_unit_tests_fail_when_a_threshold_is_wrong(promtool, tmp_path, original, broken, failing_case):
    text = RULES.read_text()
    assert original in text
    (tmp_path / "tests").mkdir()
    (tmp_path / "lab-alerts.yaml").write_text(text.replace(original, broken))
    shutil.copy(UNIT_TESTS, tmp_path / "tests" / UNIT_TESTS.name)
    result = promtool_run(promtool, "test", "rules", str(tmp_path / "tests" / UNIT_TESTS.name))
    assert result.returncode != 0
    assert failing_case in result.stdout + result.stderr
