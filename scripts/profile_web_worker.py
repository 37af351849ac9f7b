#!/usr/bin/env python3
"""Record a py-spy flame graph (SVG) of one gunicorn web worker for N seconds.

Run it while the lab serves traffic (`make load` in another terminal): the SVG shows where a web
worker spends its time — the booking orchestrator, the ORM, the JSON renderers. Pyroscope needs a
server this lab does not have; py-spy samples the running process from outside and needs no change
to it (root, or ptrace permission over the worker).

    python scripts/profile_web_worker.py --seconds 20 [--pid PID] [--out var/profiles]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _cwd(pid: int) -> Path | None:
    try:
        return Path(f"/proc/{pid}/cwd").resolve()
    except OSError:
        return None


def gunicorn_workers(root: Path = ROOT) -> list[int]:
    """Pids of this checkout's gunicorn workers: gunicorn processes started in ``root`` whose parent
    is one too (other labs on the machine are left alone)."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    gunicorn = {pid for pid in pids if "gunicorn" in _cmdline(pid) and _cwd(pid) == root}
    parents = {_parent(pid) for pid in gunicorn}
    # Workers are the leaves (a shell wrapper may sit above the master, itself a gunicorn command line).
    return sorted(pid for pid in gunicorn if _parent(pid) in gunicorn and pid not in parents)


def record(*, pid: int, seconds: int, out_dir: Path, rate: int = 100) -> Path:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    svg = out_dir / f"web-worker-{pid}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.svg"
    command = [
        py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(rate),
        "--format", "flamegraph", "--output", str(svg), "--nonblocking",
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=seconds + 60)
    return svg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--pid", type=int, default=None, help="a gunicorn worker (default: the first one found)")
    parser.add_argument("--out", default="var/profiles", help="folder of the SVG")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    args = parser.parse_args()
    pid = args.pid
    if pid is None:
        workers = gunicorn_workers()
        if not workers:
            parser.error(f"no gunicorn worker of {ROOT} is running: start the lab (`make run`) or pass --pid")
        pid = workers[0]
    svg = record(pid=pid, seconds=args.seconds, out_dir=Path(args.out), rate=args.rate)
    print(f"flame graph of web worker {pid} over {args.seconds} s: {svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
