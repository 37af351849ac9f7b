"""OpenTelemetry set-up: a tracer provider with Django, psycopg and Celery instrumentation.

Spans go to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, otherwise into a bounded
in-process store (``span_store``)."""

from __future__ import annotations

import os
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from .span_store import BoundedSpanStore

span_store = BoundedSpanStore()
_configured = threading.Event()
_lock = threading.Lock()


def configure_tracing(*, service_name: str, span_store_size: int) -> None:
    with _lock:
        if _configured.is_set():
            return
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            span_store._spans = type(span_store._spans)(maxlen=span_store_size)
            provider.add_span_processor(SimpleSpanProcessor(span_store))
        trace.set_tracer_provider(provider)
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
