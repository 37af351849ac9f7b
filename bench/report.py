"""One report format for every bench script: a table people can read, the same figures as JSON under
``var/bench/`` with the machine's load average and core count, and a latency-distribution PNG.

    figures = [Figure("booking ÷ raw pgbench", value=412, baseline=2050, target=0.20)]
    bench_report_write("booking", figures, details=report, latency={"max": [(50, 4.1), (99, 9.8)]})
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    """``value`` ÷ ``baseline`` is the ratio compared with ``target`` (a bound when ``baseline`` is None)."""

    name: str
    value: float
    target: float
    baseline: float | None = None
    unit: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def met(self) -> bool:
        compared = self.ratio if self.baseline is not None else self.value
        if compared is None:
            return False
        return compared >= self.target if self.higher_is_better else compared <= self.target


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"


def bench_table(figures: list[Figure]) -> str:
    rows = [("figure", "value", "baseline", "ratio", "target", "met?")]
    for figure in figures:
        target = ("≥ " if figure.higher_is_better else "≤ ") + _number(figure.target)
        value = f"{_number(figure.value)} {figure.unit}".strip()
        rows.append(
            (figure.name, value, _number(figure.baseline), _number(figure.ratio), target, "yes" if figure.met else "NO")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def bench_report_write(
    name: str,
    figures: list[Figure],
    *,
    details: dict | None = None,
    latency: dict[str, list[tuple[float, float]]] | None = None,
    out_dir: Path | None = None,
) -> Path:
    """Print the table; write ``<name>-<time>.json`` (and ``.png`` when ``latency`` is given)."""
    out_dir = out_dir or Path(os.environ.get("PIMLAB_VAR_DIR", ROOT / "var")) / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out_dir / f"{name}-{stamp}.json"
    document = {
        "bench": name,
        "at": stamp,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "figures": [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in figures],
        "latency_percentiles_ms": latency or {},
        "details": details or {},
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    print(bench_table(figures))
    print(f"load average {document['load_average'][0]:.2f} on {document['cores']} cores; report: {path}")
    if latency:
        png = path.with_suffix(".png")
        latency_plot_write(png, latency, title=f"{name}: latency by percentile")
        print(f"latency distribution: {png}")
    return path


def latency_plot_write(path: Path, series: dict[str, list[tuple[float, float]]], *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    figure, axes = plt.subplots(figsize=(7, 4), dpi=110)
    percentiles = sorted({p for points in series.values() for p, _ in points})
    for label, points in series.items():
        # A logit axis spreads the tail (p99, p99.9) apart; it takes fractions, the series gives percent.
        axes.plot([p / 100 for p, _ in points], [ms for _, ms in points], marker="o", label=label)
    axes.set_xscale("logit")
    axes.xaxis.set_major_locator(FixedLocator([p / 100 for p in percentiles]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"p{x * 100:g}"))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency (ms)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
