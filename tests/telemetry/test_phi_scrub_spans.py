"""Spans leave scrubbed; a span with nothing to scrub leaves as it is, without a copy per processor."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from apps.telemetry.phi_scrub import scrubbed_span


def ended(name: str, attributes: dict, error: Exception | None = None):
    span = TracerProvider().get_tracer("test").start_span(name, attributes=attributes)
    if error is not None:
        span.record_exception(error)
    span.end()
    return span


def test_a_span_with_nothing_to_scrub_leaves_as_it_is():
    span = ended("Projection Worker", {"event_id": "e1", "projection": "financial", "shard_id": "shard_0"})
    assert scrubbed_span(span) is span


def test_query_strings_and_quoted_rows_are_still_cut():
    span = ended("GET /admin/", {"http.url": "http://x/admin/?q=Smith", "url.query": "q=Smith", "event_id": "e1"})
    clean = scrubbed_span(span)
    assert clean is not span
    assert dict(clean.attributes) == {"http.url": "http://x/admin/?[query dropped]", "event_id": "e1"}

    failing = ended("Encounter Service", {}, ValueError('Failing row contains (42, "Smith", 1980-01-01).'))
    message = scrubbed_span(failing).events[0].attributes["exception.message"]
    assert "Smith" not in message and "row values dropped" in message
    assert scrubbed_span(ended("GET /x?token=1", {})).name == "GET /x?[query dropped]"
