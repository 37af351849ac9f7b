"""The lab's shared trace store: finished spans of every process (gunicorn workers, Celery workers,
beat, the projection worker) in Redis, so a trace page served by any worker shows the whole journey.

Written by ``RedisSpanExporter`` behind the SDK's ``BatchSpanProcessor`` (a background thread per
process: the request path only enqueues the span). Retention is bounded twice: the stream
``<prefix>:spans`` keeps at most ``max_spans`` entries (``XADD … MAXLEN ~``), and each trace's index
list ``<prefix>:trace:<trace id>`` expires ``retention_seconds`` after its last span. A span is a
JSON object (``span_to_dict``) with the writing process' pid and role."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence

import redis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

logger = logging.getLogger(__name__)

# Spans of one trace beyond this are dropped from its index (a runaway loop must not grow one key).
MAX_SPANS_PER_TRACE = 5000


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _plain(value):
    if isinstance(value, bool | int | float | str):
        return value if type(value) in (bool, int, float, str) else str(value)
    if isinstance(value, Sequence):
        return [_plain(item) for item in value]
    return str(value)


def span_to_dict(span: ReadableSpan, *, pid: int, role: str) -> dict:
    resource = span.resource.attributes if span.resource else {}
    return {
        "trace_id": _hex(span.context.trace_id, 32),
        "span_id": _hex(span.context.span_id, 16),
        "parent_id": _hex(span.parent.span_id, 16) if span.parent else "",
        "name": str(span.name),
        "kind": span.kind.name if span.kind else "",
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name if span.status else "UNSET",
        "attributes": {key: _plain(value) for key, value in (span.attributes or {}).items()},
        "links": [
            {"trace_id": _hex(link.context.trace_id, 32), "span_id": _hex(link.context.span_id, 16)}
            for link in span.links
        ],
        "service": str(resource.get("service.name", "")),
        "pid": pid,
        "process_role": role,
    }


class RedisSpanExporter(SpanExporter):
    """One pipeline per batch: the span on the bounded stream and in its trace's expiring index."""

    def __init__(self, *, url: str, prefix: str, max_spans: int, retention_seconds: int, role: str = "") -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._max_spans = max_spans
        self._retention_seconds = retention_seconds
        self._role = role

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        pid = os.getpid()
        role = self._role
        pipe = self._client.pipeline(transaction=False)
        touched = set()
        for span in spans:
            if not span.context.trace_flags.sampled:
                continue
            record = span_to_dict(span, pid=pid, role=role)
            body = json.dumps(record, separators=(",", ":"))
            pipe.xadd(
                f"{self._prefix}:spans",
                {"trace_id": record["trace_id"], "span": body},
                maxlen=self._max_spans,
                approximate=True,
            )
            key = f"{self._prefix}:trace:{record['trace_id']}"
            pipe.rpush(key, body)
            touched.add(key)
        for key in touched:
            pipe.ltrim(key, -MAX_SPANS_PER_TRACE, -1)
            pipe.expire(key, self._retention_seconds)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            # Telemetry must never fail the lab: the batch is lost, the processor carries on.
            logger.warning("span export to the trace store failed: %s", exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._client.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class SharedTraceStore:
    """Reads what ``RedisSpanExporter`` wrote."""

    def __init__(self, *, url: str, prefix: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def trace(self, trace_id: str) -> list[dict]:
        """The spans of one trace, oldest start first (one span once, even if exported twice)."""
        raw = self._client.lrange(f"{self._prefix}:trace:{trace_id.lower()}", 0, -1)
        return _unique_by_span_id(json.loads(item) for item in raw)

    def recent(self, count: int = 1000) -> list[dict]:
        """The newest ``count`` spans on the stream, oldest first."""
        entries = self._client.xrevrange(f"{self._prefix}:spans", count=count)
        return [json.loads(fields[b"span"]) for _, fields in reversed(entries)]

    def stream_length(self) -> int:
        return int(self._client.xlen(f"{self._prefix}:spans"))

    def clear(self) -> None:
        keys = list(self._client.scan_iter(match=f"{self._prefix}:*", count=1000))
        if keys:
            self._client.delete(*keys)


def _unique_by_span_id(spans: Iterable[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for span in spans:
        seen.setdefault(span["span_id"], span)
    return sorted(seen.values(), key=lambda s: (s["start_ns"], s["end_ns"]))


def readable_span_to_dict(span: ReadableSpan, *, role: str = "") -> dict:
    """A span of this process' in-memory store in the shared store's shape."""
    return span_to_dict(span, pid=os.getpid(), role=role)


def merged_trace(
    trace_id: str, *, shared: SharedTraceStore | None, local: list[ReadableSpan], role: str = ""
) -> list[dict]:
    """The shared store's spans of a trace plus this process' own not yet exported ones."""
    spans = [readable_span_to_dict(span, role=role) for span in local]
    if shared is not None:
        try:
            spans = shared.trace(trace_id) + spans
        except redis.RedisError as exc:
            logger.warning("trace store unreachable, showing this process' spans only: %s", exc)
    return _unique_by_span_id(spans)
