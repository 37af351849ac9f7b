"""Prometheus recording and alerting rules generated from the SLO specs, in the manner of Sloth.

Per SLO: the error ratio and event count of every burn-rate window (``slo:sli_error:ratio_rate<w>``,
``slo:sli_total:increase<w>``), metadata and budget series for dashboards, and one
``SLOErrorBudgetBurn`` alert per severity implementing the multiwindow, multi-burn-rate policy with
the spec's low-traffic guard. The built-in engine uses the same queries and thresholds
(``sli_queries``, ``burn_rates``), so the lab and a production Prometheus agree.
"""

from __future__ import annotations

import yaml

from .burn_rates import ALERT_WINDOW_PAIRS, BURN_WINDOWS
from .sli_queries import error_ratio_expr, total_events_expr
from .specs import SloDefinition

ALERT_NAME = "SLOErrorBudgetBurn"
HEADER = (
    "# Generated from slo/specs/*.yaml by `python manage.py slo_generate_rules`; do not edit by hand.\n"
    "# Check: promtool check rules dashboards/prometheus/slo-rules.yaml\n"
)


def _selector(definition: SloDefinition) -> str:
    return f'{{slo="{definition.name}"}}'


def _labels(definition: SloDefinition) -> dict[str, str]:
    return {"slo": definition.name, "service": definition.service}


def sli_recording_group(definition: SloDefinition) -> dict:
    rules = []
    for window in BURN_WINDOWS:
        rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": error_ratio_expr(definition, window),
                "labels": _labels(definition),
            }
        )
    for window in BURN_WINDOWS:
        rules.append(
            {
                "record": f"slo:sli_total:increase{window}",
                "expr": total_events_expr(definition, window),
                "labels": _labels(definition),
            }
        )
    return {"name": f"slo-sli-recordings-{definition.name}", "rules": rules}


def meta_recording_group(definition: SloDefinition) -> dict:
    selector = _selector(definition)
    period = f"{definition.window_days}d"
    rules = [
        {"record": "slo:objective:ratio", "expr": f"vector({definition.objective:g})"},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1 - {definition.objective:g})"},
        {"record": "slo:time_period:days", "expr": f"vector({definition.window_days})"},
        {
            # Like Sloth: the period's error ratio as the mean of the 5m ratios over the period.
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": f"avg_over_time(slo:sli_error:ratio_rate5m{selector}[{period}])",
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{selector}\n/ on(slo, service) group_left\n"
            f"slo:error_budget:ratio{selector}",
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{selector}",
        },
    ]
    for window in BURN_WINDOWS:
        rules.append(
            {
                "record": "slo:burn_rate:ratio",
                "expr": f"slo:sli_error:ratio_rate{window}{selector}\n/ on(slo, service) group_left\n"
                f"slo:error_budget:ratio{selector}",
                "labels": {"window": window},
            }
        )
    for rule in rules:
        rule["labels"] = {**_labels(definition), **rule.get("labels", {})}
    return {"name": f"slo-meta-recordings-{definition.name}", "rules": rules}


def alert_expr(definition: SloDefinition, severity: str) -> str:
    selector = _selector(definition)
    budget = f"{definition.error_budget:.6g}"
    minimum = definition.min_events_per_window
    clauses = []
    for pair in (p for p in ALERT_WINDOW_PAIRS if p.severity == severity):
        factor = f"{pair.factor(definition.window_days):g}"
        parts = [
            f"slo:sli_error:ratio_rate{pair.long_window}{selector} > ({factor} * {budget})",
            f"slo:sli_error:ratio_rate{pair.short_window}{selector} > ({factor} * {budget})",
        ]
        if minimum > 1:
            parts += [
                f"slo:sli_total:increase{pair.long_window}{selector} >= {minimum}",
                f"slo:sli_total:increase{pair.short_window}{selector} >= {minimum}",
            ]
        clauses.append("(\n    " + "\n    and\n    ".join(parts) + "\n  )")
    return "(\n  " + "\n  or\n  ".join(clauses) + "\n)"


def alert_group(definition: SloDefinition) -> dict:
    rules = []
    for severity in ("page", "ticket"):
        pairs = [p for p in ALERT_WINDOW_PAIRS if p.severity == severity]
        windows = ", ".join(
            f"{p.long_window}/{p.short_window} above {p.factor(definition.window_days):g}x" for p in pairs
        )
        rules.append(
            {
                "alert": ALERT_NAME,
                "expr": alert_expr(definition, severity),
                "labels": {**_labels(definition), "severity": severity},
                "annotations": {
                    "summary": f"{definition.display_name} is burning its error budget too fast ({severity}).",
                    "description": (
                        f"SLO {definition.name} ({definition.objective:g} over {definition.window_days}d): "
                        f"burn rate {windows} (both windows, at least {minimum_label(definition)} events each)."
                    ),
                    "runbook_url": definition.runbook,
                },
            }
        )
    return {"name": f"slo-alerts-{definition.name}", "rules": rules}


def minimum_label(definition: SloDefinition) -> int:
    return max(definition.min_events_per_window, 1)


def prometheus_rules(definitions: list[SloDefinition]) -> dict:
    groups = []
    for definition in sorted(definitions, key=lambda d: d.name):
        groups += [sli_recording_group(definition), meta_recording_group(definition), alert_group(definition)]
    return {"groups": groups}


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line PromQL as YAML block scalars, so the checked-in rules read like hand-written ones."""


def _str_representer(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str_representer)


def prometheus_rules_yaml(definitions: list[SloDefinition]) -> str:
    body = yaml.dump(prometheus_rules(definitions), Dumper=_LiteralDumper, sort_keys=False, width=200)
    return HEADER + body
