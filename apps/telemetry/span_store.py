"""A bounded in-process store of finished spans, used when no OTLP endpoint is configured.

Tests and the portal read traces from it; the oldest spans are dropped first."""

from __future__ import annotations

import threading
from collections import deque

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class BoundedSpanStore(SpanExporter):
    def __init__(self, max_spans: int = 1000):
        self._spans: deque[ReadableSpan] = deque(maxlen=max_spans)
        self._lock = threading.Lock()

    def export(self, spans) -> SpanExportResult:
        with self._lock:
            self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def add(self, span: ReadableSpan) -> None:
        # deque.append with a maxlen is atomic under the GIL: no lock on the per-span path.
        self._spans.append(span)

    def resize(self, max_spans: int) -> None:
        with self._lock:
            self._spans = deque(self._spans, maxlen=max_spans)

    def shutdown(self) -> None:
        pass

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()

    def spans(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self._spans)

    def trace(self, trace_id: str | int) -> list[ReadableSpan]:
        wanted = int(trace_id, 16) if isinstance(trace_id, str) else trace_id
        return sorted((s for s in self.spans() if s.context.trace_id == wanted), key=lambda s: s.start_time)


class SpanStoreProcessor(SpanProcessor):
    """Hands each finished, sampled span straight to the store.

    The SDK's SimpleSpanProcessor wraps every export in a context attach/detach (to keep an
    exporter's own network calls out of the traces), a one-span tuple and the store's lock; an
    in-memory append needs none of it, and it runs for every span of every request."""

    def __init__(self, store: BoundedSpanStore):
        self._store = store

    def on_start(self, span, parent_context=None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            self._store.add(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
