"""OpenTelemetry set-up: a tracer provider with Django, psycopg and Celery instrumentation.

Spans go to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, otherwise into a bounded
in-process store (``span_store``). Either way, when a trace store is configured
(``PIMLAB_TRACE_STORE_URL``, by default the lab's Redis) every process also exports its spans there
in batches, off the request path, so the trace page sees the spans of all processes.

Head sampling: a trace is kept or dropped when its root span starts, and every later span follows
its parent (``ParentBased``), so a trace is whole or absent, across processes. The standard
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` variables win when set; otherwise
``PIMLAB_TRACES_SAMPLE_RATIO`` (1.0 by default, 0.1 in the production profile) keeps that share of
root traces by trace id. Roots started with ``ALWAYS_SAMPLE_ATTRIBUTE`` (synthetic probes, which
check their own spans) are always kept. A dropped trace still has its trace id in every log line."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from .phi_scrub import ScrubbingOnEnd
from .span_store import BoundedSpanStore, SpanStoreProcessor
from .trace_store import RedisSpanExporter, SharedTraceStore

span_store = BoundedSpanStore()
_configured = threading.Event()
_lock = threading.Lock()


# A root span started with this attribute set to True is kept whatever the sampling ratio.
ALWAYS_SAMPLE_ATTRIBUTE = "pimlab.sample.always"


class RatioUnlessForced(Sampler):
    """Keeps ``ratio`` of root traces by trace id, and every root that asks to be kept."""

    def __init__(self, ratio: float):
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        if attributes and attributes.get(ALWAYS_SAMPLE_ATTRIBUTE) is True:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)
        return self._ratio.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RatioUnlessForced{{{self._ratio.rate}}}"


def sampler_for(ratio: float, environ: Mapping[str, str] = os.environ) -> Sampler | None:
    """None (the SDK reads OTEL_TRACES_SAMPLER itself) when that variable is set; otherwise a
    parent-based sampler keeping ``ratio`` of root traces (all of them at 1.0)."""
    if environ.get("OTEL_TRACES_SAMPLER"):
        return None
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"PIMLAB_TRACES_SAMPLE_RATIO must be within 0..1, not {ratio}")
    return ParentBased(root=ALWAYS_ON if ratio >= 1.0 else RatioUnlessForced(ratio))


def build_tracer_provider(
    *,
    service_name: str,
    store: BoundedSpanStore,
    environ: Mapping[str, str] = os.environ,
    trace_store: RedisSpanExporter | None = None,
    sample_ratio: float = 1.0,
) -> TracerProvider:
    """OTLP/HTTP export (endpoint and headers from the standard OTEL_* variables) when an
    endpoint is configured; the bounded span store otherwise; and the shared trace store, batched,
    when one is given. Root traces are kept at ``sample_ratio`` (see the module's docstring)."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=sampler_for(sample_ratio, environ)
    )
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


def configure_tracing(
    *,
    service_name: str,
    span_store_size: int,
    trace_store: RedisSpanExporter | None = None,
    sample_ratio: float = 1.0,
) -> None:
    with _lock:
        if _configured.is_set():
            return
        span_store.resize(span_store_size)
        trace.set_tracer_provider(
            build_tracer_provider(
                service_name=service_name, store=span_store, trace_store=trace_store, sample_ratio=sample_ratio
            )
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


# A W3C traceparent of version 00: trace id, parent span id, flags (bit 0: sampled).
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_UNSAMPLED_REMOTE_PARENT = trace.set_span_in_context(
    NonRecordingSpan(SpanContext(trace_id=1, span_id=1, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT)))
)


def unsampled_remote_parents_dropped(provider: trace.TracerProvider | None = None) -> bool:
    """Whether the configured sampler drops a span whose remote parent was not sampled: true of the
    parent-based head sampling configured here, not necessarily of one set by OTEL_TRACES_SAMPLER."""
    sampler = getattr(provider or trace.get_tracer_provider(), "sampler", None)
    if sampler is None:
        return False
    decision = sampler.should_sample(_UNSAMPLED_REMOTE_PARENT, 1, "probe").decision
    return decision == Decision.DROP


def remote_parent_not_sampled(headers: dict) -> bool:
    """The carrier (W3C headers) names a valid remote parent span that head sampling dropped. Read
    off the header directly, for consumers that handle many messages per batch: extracting a context
    per message is what the unsampled majority would pay for nothing. Anything else (no header,
    another version, an invalid id) is False: the caller takes the full path."""
    traceparent = headers.get("traceparent")
    if not isinstance(traceparent, str) or (match := _TRACEPARENT.fullmatch(traceparent)) is None:
        return False
    trace_id, span_id, flags = match.groups()
    return not int(flags, 16) & TraceFlags.SAMPLED and trace_id != "0" * 32 and span_id != "0" * 16


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
