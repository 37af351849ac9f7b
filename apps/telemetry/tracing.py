"""OpenTelemetry set-up: a tracer provider with Django, psycopg and Celery instrumentation.

Spans go to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, otherwise into a bounded
in-process store (``span_store``). Either way, when a trace store is configured
(``PIMLAB_TRACE_STORE_URL``, by default the lab's Redis) every process also exports its spans there
in batches, off the request path, so the trace page sees the spans of all processes."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .phi_scrub import ScrubbingOnEnd
from .span_store import BoundedSpanStore, SpanStoreProcessor
from .trace_store import RedisSpanExporter, SharedTraceStore

span_store = BoundedSpanStore()
_configured = threading.Event()
_lock = threading.Lock()


def build_tracer_provider(
    *,
    service_name: str,
    store: BoundedSpanStore,
    environ: Mapping[str, str] = os.environ,
    trace_store: RedisSpanExporter | None = None,
) -> TracerProvider:
    """OTLP/HTTP export (endpoint and headers from the standard OTEL_* variables) when an
    endpoint is configured; the bounded span store otherwise; and the shared trace store, batched,
    when one is given."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if trace_store is not None:
        provider.add_span_processor(
            ScrubbingBatchSpanProcessor(trace_store, schedule_delay_millis=500, max_export_batch_size=512)
        )
    # OpenTelemetry's own variables: the SDK and exporter read the other OTEL_* ones themselves.
    endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(ScrubbingBatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_endpoint(endpoint))))
    else:
        provider.add_span_processor(ScrubbingSpanStoreProcessor(store))
    return provider


# Every span leaves the process scrubbed: no query string, no quoted database row (phi_scrub).
class ScrubbingBatchSpanProcessor(ScrubbingOnEnd, BatchSpanProcessor):
    pass


class ScrubbingSpanStoreProcessor(ScrubbingOnEnd, SpanStoreProcessor):
    pass


def _traces_endpoint(base: str) -> str:
    # The variable names the collector's base URL; the HTTP exporter wants the traces path.
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def configure_tracing(*, service_name: str, span_store_size: int, trace_store: RedisSpanExporter | None = None) -> None:
    with _lock:
        if _configured.is_set():
            return
        span_store.resize(span_store_size)
        trace.set_tracer_provider(
            build_tracer_provider(service_name=service_name, store=span_store, trace_store=trace_store)
        )
        _instrument()
        _configured.set()


def _instrument() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    DjangoInstrumentor().instrument(is_sql_commentor_enabled=False)
    PsycopgInstrumentor().instrument(enable_commenter=False)
    CeleryInstrumentor().instrument()


def tracer(name: str = "pimlab") -> trace.Tracer:
    return trace.get_tracer(name)


def trace_store_exporter_from_settings() -> RedisSpanExporter | None:
    from django.conf import settings

    if not settings.PIMLAB_TRACE_STORE_URL:
        return None
    return RedisSpanExporter(
        url=settings.PIMLAB_TRACE_STORE_URL,
        prefix=settings.PIMLAB_TRACE_STORE_PREFIX,
        max_spans=settings.PIMLAB_TRACE_STORE_MAX_SPANS,
        retention_seconds=settings.PIMLAB_TRACE_STORE_RETENTION_SECONDS,
        role=settings.PIMLAB_PROCESS_ROLE,
    )


def shared_trace_store() -> SharedTraceStore | None:
    """The store every process exports to, or None in a lab without one (embedded profile)."""
    from django.conf import settings

    if not settings.PIMLAB_TRACE_STORE_URL:
        return None
    return SharedTraceStore(url=settings.PIMLAB_TRACE_STORE_URL, prefix=settings.PIMLAB_TRACE_STORE_PREFIX)
