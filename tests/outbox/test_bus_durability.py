"""Durable, bounded event history: the services profile's Redis writes an append-only file, events
survive a Redis restart, and streams are trimmed so memory stays flat as events accumulate."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import redis
from django.conf import settings

from apps.outbox.eventbus import RedisStreamsEventBus, stream_for
from tests.support.servers import redis_server


def _events(count: int, start: int = 0) -> list[dict]:
    return [
        {
            "event_id": f"evt-{index}",
            "event_type": "ClaimSubmitted",
            "aggregate_id": str(index % 97),
            "payload": {"claim_id": str(index), "total_amount": "10.00"},
        }
        for index in range(start, start + count)
    ]


def test_the_services_profile_redis_persists_with_an_append_only_file():
    client = redis.Redis.from_url(settings.PIMLAB_EVENTBUS_URL)
    assert client.config_get("appendonly")["appendonly"] == "yes"


def test_published_events_survive_a_redis_restart(tmp_path):
    with redis_server(tmp_path, "--appendonly", "yes", "--appendfsync", "always") as first:
        RedisStreamsEventBus(first.url).publish_batch(_events(50))
        port = first.url.rsplit(":", 1)[1].split("/")[0]
        os.kill(first.pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(first.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    subprocess.run(
        [
            *("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"),
            *("--daemonize", "yes", "--pidfile", str(tmp_path / "again.pid"), "--dir", str(tmp_path)),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=int(port))
        for _ in range(100):
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        assert client.xlen(stream_for("ClaimSubmitted")) == 50
    finally:
        os.kill(int((tmp_path / "again.pid").read_text()), signal.SIGKILL)


def test_streams_are_trimmed_so_memory_stays_flat(tmp_path):
    with redis_server(tmp_path) as server:
        bus = RedisStreamsEventBus(server.url, stream_maxlen=1000)
        client = redis.Redis.from_url(server.url)
        for batch in range(10):
            bus.publish_batch(_events(1000, start=batch * 1000))
            if batch == 1:
                memory_after_2k = client.info("memory")["used_memory"]
        memory_after_10k = client.info("memory")["used_memory"]
        length = client.xlen(stream_for("ClaimSubmitted"))
    # Approximate trimming removes whole macro-nodes (100 entries by default), so a little over the cap.
    assert 1000 <= length <= 1200
    assert memory_after_10k < memory_after_2k * 1.25
