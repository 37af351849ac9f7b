"""PromQL vector selectors, the subset SLO specs use to name their series.

A spec's query is a plain selector such as
``http_server_duration_seconds_count{route="api/encounters",status=~"5.."}`` so that one string
serves three readers: Prometheus (rendered as is inside ``increase()``), the built-in sampler
(matched against prometheus_client samples of this process or of scraped targets) and the rule
generator. Histogram ``le`` bounds are compared as numbers because exporters disagree on their
spelling (``1.0`` from prometheus_client, ``1`` after Prometheus 3 normalises it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SELECTOR = re.compile(r"^\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(?P<matchers>.*)\})?\s*$", re.S)
_MATCHER = re.compile(
    r'\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*(?:,|$)'
)
_AGGREGATION = re.compile(r"^\s*(?P<op>max|min|avg|sum)\s*\((?P<inner>.*)\)\s*$", re.S)


class SelectorError(ValueError):
    """A query in a spec is not a selector this project can evaluate without Prometheus."""


@dataclass(frozen=True)
class LabelMatcher:
    label: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.label == "le" and self.op in ("=", "!="):
            equal = _same_bound(actual, self.value)
            return equal if self.op == "=" else not equal
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def promql(self) -> str:
        if self.label == "le" and self.op in ("=", "!="):
            # Match every spelling of the bound: "0.5", "1" and "1.0", "+Inf".
            spellings = sorted(_bound_spellings(self.value))
            op = "=~" if self.op == "=" else "!~"
            return f'le{op}"{"|".join(re.escape(s).replace(chr(92), chr(92) * 2) for s in spellings)}"'
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True)
class VectorSelector:
    metric: str
    matchers: tuple[LabelMatcher, ...] = ()

    @classmethod
    def parse(cls, text: str) -> VectorSelector:
        found = _SELECTOR.match(text or "")
        if not found:
            raise SelectorError(f'{text!r} is not a PromQL vector selector like metric{{label="value"}}.')
        matchers: list[LabelMatcher] = []
        rest = (found.group("matchers") or "").strip()
        while rest:
            one = _MATCHER.match(rest)
            if not one:
                raise SelectorError(f"Cannot read the label matchers of {text!r} near {rest!r}.")
            value = one.group("value").replace('\\"', '"').replace("\\\\", "\\")
            if one.group("op") in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise SelectorError(f"Bad regular expression {value!r} in {text!r}: {exc}.") from exc
            matchers.append(LabelMatcher(one.group("label"), one.group("op"), value))
            rest = rest[one.end() :].strip()
        return cls(found.group("name"), tuple(matchers))

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return name == self.metric and all(m.matches(labels) for m in self.matchers)

    def promql(self) -> str:
        if not self.matchers:
            return self.metric
        return f"{self.metric}{{{','.join(m.promql() for m in self.matchers)}}}"


@dataclass(frozen=True)
class GaugeQuery:
    """A gauge reduced to one number per instant: ``max(selector)`` (the default), min, avg or sum."""

    aggregation: str
    selector: VectorSelector

    @classmethod
    def parse(cls, text: str) -> GaugeQuery:
        found = _AGGREGATION.match(text or "")
        if found:
            return cls(found.group("op"), VectorSelector.parse(found.group("inner")))
        return cls("max", VectorSelector.parse(text))

    def reduce(self, values: list[float]) -> float | None:
        if not values:
            return None
        if self.aggregation == "max":
            return max(values)
        if self.aggregation == "min":
            return min(values)
        if self.aggregation == "sum":
            return sum(values)
        return sum(values) / len(values)

    def promql(self) -> str:
        return f"{self.aggregation}({self.selector.promql()})"


def _parse_bound(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _same_bound(left: str, right: str) -> bool:
    a, b = _parse_bound(left), _parse_bound(right)
    if a is None or b is None:
        return left == right
    return a == b


def _bound_spellings(text: str) -> set[str]:
    value = _parse_bound(text)
    if value is None:
        return {text}
    if math.isinf(value):
        return {"+Inf"}
    spellings = {text, repr(value)}
    if value == int(value):
        spellings.add(str(int(value)))
    return spellings
