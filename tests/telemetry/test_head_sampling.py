"""Head sampling: a share of root traces is kept whole (parent-based), synthetic probes keep theirs,
the standard OTEL_TRACES_SAMPLER wins when set, the production profile keeps one trace in ten, and a
span leaves the process scrubbed once whatever the number of exporting processors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import NoOpTracerProvider

from apps.telemetry.phi_scrub import ScrubbingOnEnd, scrubbed_once, span_needs_scrubbing
from apps.telemetry.span_store import BoundedSpanStore, SpanStoreProcessor
from apps.telemetry.tracing import (
    ALWAYS_SAMPLE_ATTRIBUTE,
    build_tracer_provider,
    remote_parent_not_sampled,
    sampler_for,
    unsampled_remote_parents_dropped,
)

ROOT = Path(__file__).resolve().parent.parent.parent


def _traces(provider, count: int, **root_kwargs) -> None:
    tracer = provider.get_tracer("t")
    for n in range(count):
        with tracer.start_as_current_span(f"root-{n}", **root_kwargs), tracer.start_as_current_span(f"child-{n}"):
            pass


def test_a_ratio_keeps_about_that_share_of_root_traces_and_each_kept_trace_whole():
    store = BoundedSpanStore(max_spans=10_000)
    provider = build_tracer_provider(service_name="t", store=store, environ={}, sample_ratio=0.1)
    _traces(provider, 2000)
    spans = store.spans()
    roots = [s for s in spans if s.name.startswith("root-")]
    children = [s for s in spans if s.name.startswith("child-")]
    assert 120 <= len(roots) <= 280, len(roots)
    # Parent-based: a child is kept exactly when its root is.
    kept_roots = sorted(s.name.removeprefix("root-") for s in roots)
    assert kept_roots == sorted(s.name.removeprefix("child-") for s in children)


def test_roots_that_ask_to_be_kept_are_kept_at_any_ratio():
    store = BoundedSpanStore(max_spans=1000)
    provider = build_tracer_provider(service_name="t", store=store, environ={}, sample_ratio=0.0)
    _traces(provider, 50)
    _traces(provider, 50, attributes={ALWAYS_SAMPLE_ATTRIBUTE: True})
    assert len(store.spans()) == 100


def test_every_trace_is_kept_at_the_default_ratio_and_the_otel_variable_wins():
    store = BoundedSpanStore(max_spans=1000)
    provider = build_tracer_provider(service_name="t", store=store, environ={})
    _traces(provider, 100)
    assert len(store.spans()) == 200
    assert sampler_for(0.1, {"OTEL_TRACES_SAMPLER": "always_on"}) is None
    assert "RatioUnlessForced{0.1}" in sampler_for(0.1, {}).get_description()


def test_the_production_profile_keeps_one_trace_in_ten_unless_told_otherwise():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIMLAB_TRACES", "OTEL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="pimlab_portal.settings.production",
        DJANGO_SECRET_KEY="test-only",
        PIMLAB_VAR_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / "pimlab-sampling-settings"),
    )
    script = (
        "import django; django.setup(); from opentelemetry import trace;"
        " print(trace.get_tracer_provider().sampler.get_description())"
    )

    def description(extra: dict) -> str:
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, check=True
        )
        return result.stdout.strip().splitlines()[-1]

    assert "RatioUnlessForced{0.1}" in description({})
    assert "AlwaysOnSampler" in description({"PIMLAB_TRACES_SAMPLE_RATIO": "1"})


class _Collect(SpanExporter):
    def __init__(self):
        self.spans = []

    def export(self, spans):
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


class _ScrubbingCollector(ScrubbingOnEnd, SpanStoreProcessor):
    pass


def test_a_span_is_scrubbed_once_for_all_processors_and_a_clean_span_is_not_copied():
    first, second = BoundedSpanStore(), BoundedSpanStore()
    provider = TracerProvider()
    provider.add_span_processor(_ScrubbingCollector(first))
    provider.add_span_processor(_ScrubbingCollector(second))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /admin", attributes={"http.target": "/admin/?q=Smith"}):
        pass
    with tracer.start_as_current_span("Patient Orchestrator", attributes={"shard_id": "shard_0"}):
        pass
    (dirty_a, clean_a), (dirty_b, clean_b) = first.spans(), second.spans()
    assert dirty_a.attributes["http.target"] == "/admin/?[query dropped]"
    assert dirty_a is dirty_b, "one scrubbed copy serves both processors"
    assert clean_a is clean_b and not span_needs_scrubbing(clean_a)
    assert scrubbed_once(clean_a) is clean_a


SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UNSAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


def test_an_unsampled_remote_parent_is_read_off_its_traceparent_as_the_sampler_would_decide():
    store = BoundedSpanStore(max_spans=100)
    provider = build_tracer_provider(service_name="t", store=store, environ={}, sample_ratio=0.1)
    carriers = [
        {"traceparent": UNSAMPLED},
        {"traceparent": SAMPLED},
        {"traceparent": UNSAMPLED.replace("-00f067aa0ba902b7-", "-0000000000000000-")},  # invalid: a root
        {"traceparent": UNSAMPLED.replace("4bf92f3577b34da6a3ce929d0e0e4736", "0" * 32)},  # invalid: a root
        {"traceparent": UNSAMPLED.upper()},  # not W3C: a root
        {"traceparent": "01" + UNSAMPLED[2:] + "-future"},  # another version: the propagator decides
        {},
    ]
    assert [remote_parent_not_sampled(carrier) for carrier in carriers] == [True] + [False] * 6
    tracer = provider.get_tracer("t")
    for carrier in carriers:
        if remote_parent_not_sampled(carrier):
            span = tracer.start_span("child", context=propagate.extract(carrier))
            assert not span.is_recording(), carrier
    with tracer.start_as_current_span("child", context=propagate.extract({"traceparent": SAMPLED})) as span:
        assert span.is_recording()


def test_unsampled_remote_parents_are_dropped_under_head_sampling_but_not_by_an_always_on_sampler():
    store = BoundedSpanStore(max_spans=10)
    for ratio in (0.0, 0.1, 1.0):
        provider = build_tracer_provider(service_name="t", store=store, environ={}, sample_ratio=ratio)
        assert unsampled_remote_parents_dropped(provider), ratio
    assert not unsampled_remote_parents_dropped(TracerProvider(sampler=ALWAYS_ON))
    assert not unsampled_remote_parents_dropped(NoOpTracerProvider())
