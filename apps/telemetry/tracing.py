"""OpenTelemetry set-up: a tracer provider with Django, psycopg and Celery instrumentation.

Spans go to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, otherwise into a bounded
in-process store (``span_store``)."""

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

span_store = BoundedSpanStore()
_configured = threading.Event()
_lock = threading.Lock()


def build_tracer_provider(
    *, service_name: str, store: BoundedSpanStore, environ: Mapping[str, str] = os.environ
) -> TracerProvider:
    """OTLP/HTTP export (endpoint and headers from the standard OTEL_* variables) when an
    endpoint is configured; the bounded span store otherwise."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
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


def configure_tracing(*, service_name: str, span_store_size: int) -> None:
    with _lock:
        if _configured.is_set():
            return
        span_store.resize(span_store_size)
        trace.set_tracer_provider(build_tracer_provider(service_name=service_name, store=span_store))
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
