"""A request produces a span tree: the server span with the database spans as its children."""

import re

import pytest
from opentelemetry.trace import SpanKind

from apps.telemetry.span_store import BoundedSpanStore
from apps.telemetry.tracing import build_tracer_provider, span_store
from tests.factories import PatientFactory, persona_user
from tests.support.api import api_client

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.telemetry.urls")]


def test_a_request_span_tree_has_the_server_span_and_db_children():
    patient = PatientFactory(bucket=1011)
    _, token = persona_user("clinician", username="doc-trace")
    client = api_client(token)
    span_store.clear()
    response = client.get(f"/probe/{patient.id}/")
    assert response.status_code == 200
    spans = span_store.trace(response.json()["trace_id"])
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    assert len(servers) == 1
    server = servers[0]
    assert server.parent is None
    assert server.name == "GET probe/<int:patient_id>/"
    assert server.attributes["persona"] == "clinician"
    assert server.attributes["shard_id"] == "shard_1"
    assert 200 in (server.attributes.get("http.status_code"), server.attributes.get("http.response.status_code"))
    db_spans = [s for s in spans if s.kind == SpanKind.CLIENT and s.attributes.get("db.system") == "postgresql"]
    # Token lookup in the catalog and the patient read on shard_1.
    assert len(db_spans) >= 2
    by_id = {s.context.span_id: s for s in spans}
    for db_span in db_spans:
        assert db_span.parent.span_id in by_id, "every DB span hangs off a span of this trace"
        ancestor = db_span
        while ancestor.parent is not None:
            ancestor = by_id[ancestor.parent.span_id]
        assert ancestor is server
    db_names = {s.attributes.get("db.name") or s.attributes.get("db.namespace") for s in db_spans}
    # Test database names may carry a pytest-xdist worker suffix (_gw0 …).
    assert any(name and re.search(r"_catalog(_gw\d+)?$", name) for name in db_names)
    assert any(name and re.search(r"_shard1(_gw\d+)?$", name) for name in db_names)


def test_without_an_otlp_endpoint_spans_go_to_the_bounded_store():
    store = BoundedSpanStore(max_spans=3)
    provider = build_tracer_provider(service_name="t", store=store, environ={})
    tracer = provider.get_tracer("t")
    for i in range(5):
        with tracer.start_as_current_span(f"s{i}"):
            pass
    assert [s.name for s in store.spans()] == ["s2", "s3", "s4"], "the oldest spans are dropped first"


def test_with_an_otlp_endpoint_spans_are_exported_over_otlp():
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    store = BoundedSpanStore(max_spans=3)
    provider = build_tracer_provider(
        service_name="t", store=store, environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    )
    processors = provider._active_span_processor._span_processors
    assert len(processors) == 1 and isinstance(processors[0], BatchSpanProcessor)
    exporter = processors[0].span_exporter if hasattr(processors[0], "span_exporter") else processors[0]._exporter
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    with provider.get_tracer("t").start_as_current_span("not-stored"):
        pass
    assert store.spans() == []
    provider.shutdown()


def test_the_store_keeps_sampled_spans_only():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    from apps.telemetry.span_store import SpanStoreProcessor

    store = BoundedSpanStore(max_spans=10)
    for sampler, name in ((ALWAYS_OFF, "dropped"), (ALWAYS_ON, "kept")):
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(SpanStoreProcessor(store))
        with provider.get_tracer("t").start_as_current_span(name):
            pass
    assert [s.name for s in store.spans()] == ["kept"]
