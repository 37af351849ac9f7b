"""The bench report: a readable table, JSON with the machine's load, and a latency PNG."""

from __future__ import annotations

import json

import pytest

from bench.report import Figure, bench_report_write, bench_table


def test_ratio_against_the_baseline_decides_met_and_bounds_are_compared_directly():
    assert Figure("booking", value=300, baseline=1000, target=0.20).met is True
    assert Figure("booking", value=150, baseline=1000, target=0.20).met is False
    assert Figure("p99", value=12.0, target=25, higher_is_better=False).met is True
    assert Figure("p99", value=31.0, target=25, higher_is_better=False).met is False


@pytest.mark.filterwarnings("error")  # e.g. percentiles a logit axis cannot place
def test_table_json_and_png(tmp_path, capsys):
    figures = [
        Figure("booking req/s ÷ raw pgbench tps", value=310, baseline=2000, target=0.20, unit="req/s"),
        Figure("p99 at half the peak", value=11.5, target=25, unit="ms", higher_is_better=False),
    ]
    path = bench_report_write(
        "unit", figures, details={"phase_seconds": 2}, latency={"max": [(50, 4.0), (99, 9.5)]}, out_dir=tmp_path
    )
    table = capsys.readouterr().out
    assert "0.155" in table and "NO" in table and "yes" in table  # 310/2000 misses 0.20; 11.5 ms meets 25
    document = json.loads(path.read_text())
    assert document["cores"] >= 1 and len(document["load_average"]) == 3
    assert [f["met"] for f in document["figures"]] == [False, True]
    png = path.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert bench_table(figures).splitlines()[0].split()[0] == "figure"
