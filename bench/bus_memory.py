"""Redis memory of the event bus with and without stream trimming, on a private Redis.

    .venv/bin/python bench/bus_memory.py [--events 200000] [--maxlen 100000]

Publishes the same ClaimSubmitted-shaped events through the lab's RedisStreamsEventBus twice, once
with the lab's trimming (XADD MAXLEN ~) and once with an unbounded cap, and prints used_memory
after every quarter of the run, then the ratio trimmed ÷ untrimmed at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimlab_portal.settings.local")


def private_redis(directory: str, port: int) -> int:
    pidfile = Path(directory) / "redis.pid"
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--dir",
            directory,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    while not (pidfile.exists() and pidfile.read_text().strip()):
        time.sleep(0.05)
    return int(pidfile.read_text())


def run(events: int, maxlen: int, port: int) -> list[int]:
    import redis

    from apps.outbox.eventbus import RedisStreamsEventBus

    with tempfile.TemporaryDirectory() as directory:
        pid = private_redis(directory, port)
        try:
            client = redis.Redis(host="127.0.0.1", port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            bus = RedisStreamsEventBus(f"redis://127.0.0.1:{port}/0", stream_maxlen=maxlen)
            samples, batch = [], 1000
            for start in range(0, events, batch):
                bus.publish_batch(
                    [
                        {
                            "event_id": f"evt-{i}",
                            "event_type": "ClaimSubmitted",
                            "aggregate_id": str(i % 997),
                            "payload": {"claim_id": str(i), "payer_code": "ACME-HEALTH", "total_amount": "151.00"},
                        }
                        for i in range(start, min(start + batch, events))
                    ]
                )
                if (start + batch) % (events // 4) == 0:
                    samples.append(client.info("memory")["used_memory"])
            return samples
        finally:
            os.kill(pid, signal.SIGKILL)


def main() -> None:
    import django

    django.setup()
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--maxlen", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=16479)
    args = parser.parse_args()
    trimmed = run(args.events, args.maxlen, args.port)
    untrimmed = run(args.events, 10**12, args.port)
    print(f"events per quarter: {args.events // 4}; MAXLEN ~{args.maxlen}")
    print("quarter  trimmed_MB  untrimmed_MB")
    for index, (a, b) in enumerate(zip(trimmed, untrimmed, strict=True), start=1):
        print(f"{index:>7}  {a / 1e6:>10.1f}  {b / 1e6:>12.1f}")
    print(f"trimmed ÷ untrimmed at {args.events} events: {trimmed[-1] / untrimmed[-1]:.2f}")
    print(f"trimmed at the end ÷ trimmed at half: {trimmed[-1] / trimmed[1]:.2f}")


if __name__ == "__main__":
    main()
