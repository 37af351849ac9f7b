"""Chart specs for the console's Chart.js charts, built from series the engine or the run recorded.

A spec is data only: labels, datasets (the engine's numbers, unchanged), threshold lines and chaos
bands as x-index ranges. The same spec renders the table under the chart, so chart and table
cannot disagree."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime


def time_label(moment: str) -> str:
    return moment[:19].replace("T", " ")


def clock_label(moment: str) -> str:
    """Time of day to the millisecond, for charts of one drill (its steps can be milliseconds apart)."""
    return moment[11:23]


def bands_on(moments: list[str], windows: list[dict]) -> list[dict]:
    """Chaos run windows as [first, last] point indices of ``moments`` (ISO strings, ascending)."""
    if not moments:
        return []
    stamps = [datetime.fromisoformat(m) for m in moments]
    bands = []
    for window in windows:
        start, end = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
        first = max(bisect_left(stamps, start) - 1, 0)
        last = min(bisect_right(stamps, end), len(stamps) - 1)
        if stamps[first] > end or stamps[last] < start:
            continue
        bands.append(
            {
                "x_min": first,
                "x_max": last,
                "label": f"run {window['run_id']} {window['experiment']}",
                "run_id": window["run_id"],
            }
        )
    return bands


def chart_spec(
    *,
    title: str,
    moments: list[str],
    datasets: list[dict],
    y_label: str,
    thresholds: list[dict] | None = None,
    bands: list[dict] | None = None,
    step: bool = False,
    label=time_label,
) -> dict:
    return {
        "title": title,
        "labels": [label(m) for m in moments],
        "datasets": datasets,
        "y_label": y_label,
        "thresholds": thresholds or [],
        "bands": bands or [],
        "step": step,
    }


def table_rows(spec: dict) -> list[list]:
    """The chart's numbers as rows: time, then one column per dataset."""
    return [[label, *(d["data"][i] for d in spec["datasets"])] for i, label in enumerate(spec["labels"])]


def chart_block(chart_id: str, spec: dict) -> dict:
    """What ``console/_chart.html`` renders: the canvas id, the spec (embedded as JSON) and its table."""
    return {"id": chart_id, "data_id": f"{chart_id}-data", "spec": spec, "rows": table_rows(spec)}
