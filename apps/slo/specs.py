"""SLO specifications: an OpenSLO-like YAML document per SLO, validated and turned into a definition.

Shape (OpenSLO v1 ``kind: SLO`` with the indicator inline, plus a small ``alerting`` block)::

    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: booking-availability, displayName: ..., labels: {...}}
    spec:
      service: encounters
      description: ...
      budgetingMethod: Occurrences            # or Timeslices with a thresholdMetric
      timeWindow: [{duration: 30d, isRolling: true}]
      objectives: [{target: 0.999}]           # Timeslices: also op (lt|lte|gt|gte), value, timeSliceWindow
      indicator:
        spec:
          ratioMetric:                        # total plus exactly one of good or bad
            counter: true
            total: {metricSource: {type: Prometheus, spec: {query: 'metric_count{...}'}}}
            bad:   {metricSource: {type: Prometheus, spec: {query: 'metric_count{...,status=~"5.."}'}}}
          # or thresholdMetric: {metricSource: {type: Prometheus, spec: {query: 'max(gauge{...})'}}}
      alerting: {minEventsPerWindow: 20, runbook: docs/runbooks/...}

Queries are plain PromQL vector selectors (see ``promql``), so metric names and labels are data.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from .promql import GaugeQuery, SelectorError, VectorSelector

_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_METRIC_SOURCE = {
    "type": "object",
    "required": ["metricSource"],
    "properties": {
        "metricSource": {
            "type": "object",
            "required": ["spec"],
            "properties": {
                "type": {"enum": ["Prometheus", "prometheus"]},
                "spec": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {"query": {"type": "string", "minLength": 1}},
                },
            },
        }
    },
}

SPEC_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "openslo/v1"},
        "kind": {"const": "SLO"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": _NAME},
                "displayName": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["service", "timeWindow", "objectives", "indicator"],
            "properties": {
                "service": {"type": "string", "minLength": 1},
                "description": {"type": "string"},
                "budgetingMethod": {"enum": ["Occurrences", "Timeslices"]},
                "timeWindow": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["duration"],
                        "properties": {
                            "duration": {"type": "string", "pattern": r"^[1-9][0-9]*d$"},
                            "isRolling": {"const": True},
                        },
                    },
                },
                "objectives": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["target"],
                        "properties": {
                            "displayName": {"type": "string"},
                            "target": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                            "op": {"enum": ["lt", "lte", "gt", "gte"]},
                            "value": {"type": "number"},
                            "timeSliceWindow": {"type": "string", "pattern": r"^[1-9][0-9]*[sm]$"},
                        },
                    },
                },
                "indicator": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "spec": {
                            "type": "object",
                            "oneOf": [{"required": ["ratioMetric"]}, {"required": ["thresholdMetric"]}],
                            "properties": {
                                "ratioMetric": {
                                    "type": "object",
                                    "required": ["total"],
                                    "oneOf": [{"required": ["good"]}, {"required": ["bad"]}],
                                    "properties": {
                                        "counter": {"type": "boolean"},
                                        "good": _METRIC_SOURCE,
                                        "bad": _METRIC_SOURCE,
                                        "total": _METRIC_SOURCE,
                                    },
                                },
                                "thresholdMetric": _METRIC_SOURCE,
                            },
                        }
                    },
                },
                "alerting": {
                    "type": "object",
                    "properties": {
                        "minEventsPerWindow": {"type": "integer", "minimum": 0},
                        "runbook": {"type": "string"},
                    },
                },
            },
        },
    },
}


class SpecError(ValueError):
    """A spec file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class RatioIndicator:
    """Events counted by counters: ``total`` and either ``good`` or ``bad`` (bad = total - good)."""

    total: VectorSelector
    bad: VectorSelector | None = None
    good: VectorSelector | None = None

    def selectors(self) -> list[VectorSelector]:
        return [s for s in (self.total, self.bad, self.good) if s is not None]


@dataclass(frozen=True)
class ThresholdIndicator:
    """Time slices of a gauge: a slice is good when ``value <op> threshold`` holds (e.g. staleness <= 60 s)."""

    query: GaugeQuery
    op: str
    threshold: float
    time_slice_seconds: int

    def is_good(self, value: float) -> bool:
        return {
            "lt": value < self.threshold,
            "lte": value <= self.threshold,
            "gt": value > self.threshold,
            "gte": value >= self.threshold,
        }[self.op]

    def bad_promql_comparison(self) -> str:
        """The PromQL comparison that is 1 for a bad slice (the negation of the objective's op)."""
        return {"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}[self.op]


@dataclass(frozen=True)
class SloDefinition:
    name: str
    display_name: str
    service: str
    description: str
    objective: float
    window_days: int
    indicator: RatioIndicator | ThresholdIndicator
    min_events_per_window: int
    runbook: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    document: dict = field(default_factory=dict, compare=False)

    @property
    def error_budget(self) -> float:
        return 1.0 - self.objective

    @property
    def budgeting_method(self) -> str:
        return "Timeslices" if isinstance(self.indicator, ThresholdIndicator) else "Occurrences"

    @property
    def content_hash(self) -> str:
        return spec_content_hash(self.document)

    @classmethod
    def from_document(cls, document: dict, *, origin: str = "spec") -> SloDefinition:
        try:
            jsonschema.validate(document, SPEC_SCHEMA)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
            raise SpecError(f"{origin}: {where}: {exc.message}") from exc
        metadata, spec = document["metadata"], document["spec"]
        objective = spec["objectives"][0]
        indicator_spec = spec["indicator"]["spec"]
        try:
            if "ratioMetric" in indicator_spec:
                ratio = indicator_spec["ratioMetric"]
                indicator: RatioIndicator | ThresholdIndicator = RatioIndicator(
                    total=_selector(ratio["total"]),
                    bad=_selector(ratio["bad"]) if "bad" in ratio else None,
                    good=_selector(ratio["good"]) if "good" in ratio else None,
                )
                if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
                    raise SpecError(f"{origin}: a ratioMetric indicator is budgeted by Occurrences.")
            else:
                if spec.get("budgetingMethod") != "Timeslices":
                    raise SpecError(f"{origin}: a thresholdMetric indicator needs budgetingMethod: Timeslices.")
                if "op" not in objective or "value" not in objective:
                    raise SpecError(f"{origin}: a thresholdMetric objective needs op and value (e.g. lte 60).")
                indicator = ThresholdIndicator(
                    query=GaugeQuery.parse(indicator_spec["thresholdMetric"]["metricSource"]["spec"]["query"]),
                    op=objective["op"],
                    threshold=float(objective["value"]),
                    time_slice_seconds=_slice_seconds(objective.get("timeSliceWindow", "1m")),
                )
        except SelectorError as exc:
            raise SpecError(f"{origin}: {exc}") from exc
        alerting = spec.get("alerting", {})
        return cls(
            name=metadata["name"],
            display_name=metadata.get("displayName", metadata["name"]),
            service=spec["service"],
            description=spec.get("description", ""),
            objective=float(objective["target"]),
            window_days=int(spec["timeWindow"][0]["duration"][:-1]),
            indicator=indicator,
            min_events_per_window=int(alerting.get("minEventsPerWindow", 0)),
            runbook=alerting.get("runbook", ""),
            labels=dict(metadata.get("labels", {})),
            document=document,
        )


def spec_content_hash(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def load_spec_file(path: Path) -> list[SloDefinition]:
    """Every SLO document in one YAML file (several may be separated by ``---``)."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML: {exc}") from exc
    return [SloDefinition.from_document(d, origin=path.name) for d in documents]


def load_spec_directory(directory: Path) -> list[SloDefinition]:
    definitions: list[SloDefinition] = []
    seen: dict[str, str] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        for definition in load_spec_file(path):
            if definition.name in seen:
                raise SpecError(f"{path.name}: SLO {definition.name!r} is already defined in {seen[definition.name]}.")
            seen[definition.name] = path.name
            definitions.append(definition)
    return definitions


def _selector(source: dict) -> VectorSelector:
    return VectorSelector.parse(source["metricSource"]["spec"]["query"])


def _slice_seconds(text: str) -> int:
    found = re.fullmatch(r"(\d+)([sm])", text)
    assert found is not None  # the schema guarantees the shape
    return int(found.group(1)) * (60 if found.group(2) == "m" else 1)
