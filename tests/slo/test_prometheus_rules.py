"""The checked-in Prometheus rules are what the specs generate, promtool accepts them, and the
promtool unit tests (synthetic series, hand-computed outcomes) pass."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

RULES = Path(settings.BASE_DIR) / "dashboards" / "prometheus" / "slo-rules.yaml"
RULE_TESTS = sorted((Path(settings.BASE_DIR) / "dashboards" / "prometheus" / "tests").glob("*.yaml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run scripts/ensure_services.sh (installs Debian's prometheus package)"
    return path


def test_checked_in_rules_match_the_specs():
    call_command("slo_generate_rules", "--check")


def test_stale_rules_are_detected(tmp_path):
    stale = tmp_path / "rules.yaml"
    stale.write_text(RULES.read_text().replace("14.4", "15"))
    with pytest.raises(CommandError, match="out of date"):
        call_command("slo_generate_rules", "--check", "--output", str(stale))


def test_promtool_check_rules(promtool):
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_unit_tests(promtool):
    assert RULE_TESTS
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, RULE_TESTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr


def test_promtool_unit_tests_fail_when_the_page_threshold_is_wrong(promtool, tmp_path):
    """The unit tests can fail: with the 1h/5m factor raised the 10 % burst no longer pages there."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "slo-rules.yaml").write_text(RULES.read_text().replace("(14.4 * 0.001)", "(200 * 0.001)"))
    for test_file in RULE_TESTS:
        shutil.copy(test_file, tmp_path / "tests" / test_file.name)
    result = subprocess.run(
        [promtool, "test", "rules", *[str(tmp_path / "tests" / t.name) for t in RULE_TESTS]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "10% error burst" in result.stdout + result.stderr


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((Path(settings.BASE_DIR) / "dashboards" / "slo.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queries += [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]
    return [q.replace("$slo", "booking-availability") for q in queries]


def test_grafana_dashboard_queries_are_valid_promql_over_recorded_series(promtool, tmp_path):
    queries = _dashboard_queries()
    assert len(queries) >= 10
    recorded = {r["record"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "record" in r}
    for query in queries:
        for name in re.findall(r"\b(slo:[a-z_0-9:]+)", query):
            assert name in recorded, f"{name} in the dashboard is not a recording rule"
    # promtool parses every query when it checks them as recording rules.
    rules = {
        "groups": [{"name": "dashboard", "rules": [{"record": f"q:{i}", "expr": q} for i, q in enumerate(queries)]}]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
