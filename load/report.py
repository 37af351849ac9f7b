"""The load run's report: requests/s, failures and p50/p95/p99 per operation, from Locust's CSV
statistics, written beside the run as report.json and report.md. Usage: report.py RUN_DIR"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def load_report(run_dir: Path) -> dict:
    rows = list(csv.DictReader((run_dir / "locust_stats.csv").open()))
    operations = []
    for row in rows:
        operations.append(
            {
                "operation": row["Name"] if row["Type"] else "all",
                "method": row["Type"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "requests_per_second": round(_number(row["Requests/s"]) or 0.0, 2),
                "p50_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "p99_ms": _number(row["99%"]),
            }
        )
    # Flame graphs recorded during the run (scripts/profile_web_worker.py --out RUN_DIR).
    profiles = sorted(str(path.name) for path in run_dir.glob("*.svg"))
    return {"run": run_dir.name, "operations": operations, "flame_graphs": profiles}


def report_markdown(report: dict) -> str:
    lines = [
        f"# Persona load run {report['run']}",
        "",
        "| operation | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for op in report["operations"]:
        name = f"{op['method']} {op['operation']}".strip()
        lines.append(
            f"| {name} | {op['requests']} | {op['failures']} | {op['requests_per_second']} | "
            f"{op['p50_ms']} | {op['p95_ms']} | {op['p99_ms']} |"
        )
    if report.get("flame_graphs"):
        lines += [
            "",
            "Flame graphs of a web worker during the run:",
            *[f"- [{n}]({n})" for n in report["flame_graphs"]],
        ]
    return "\n".join(lines) + "\n"


def main(run_dir: Path) -> None:
    report = load_report(run_dir)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))
    (run_dir / "report.md").write_text(report_markdown(report))
    sys.stdout.write(report_markdown(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
