"""One place that keeps PHI out of telemetry: query strings (admin searches by surname or MRN) are
dropped from every log line and span, and database error text (PostgreSQL's "Failing row contains
(…)" and "Key (…)=(…)" quote the row: a note, a name) is cut from exception messages on spans and in
log lines alike. Used by the structlog chain (``scrub_log_event``) and the tracer provider
(``ScrubbingOnEnd`` is mixed into every exporting processor)."""

from __future__ import annotations

import re
import threading

from opentelemetry.sdk.trace import Event as SpanEvent
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

# Attributes and log fields that carry a URL or a path with its query string.
URL_KEYS = frozenset(
    {"request", "path", "url", "http.url", "http.target", "url.full", "url.query", "http.request.uri", "referer"}
)
DROPPED_KEYS = frozenset({"url.query", "http.query_string"})
_QUERY = re.compile(r"\?[^\s\"']*")
_DB_DETAIL = re.compile(
    r"(Failing row contains|DETAIL:\s+Key|Key)\s*\(.*?\)(=\(.*?\))?(?=\s|$|\.|\")", re.IGNORECASE | re.DOTALL
)
_DETAIL_LINE = re.compile(r"^\s*DETAIL:.*$", re.MULTILINE)


def strip_query(value):
    return _QUERY.sub("?[query dropped]", value) if isinstance(value, str) else value


def sanitize_error_text(text: str) -> str:
    """Database error text without the row values it quotes."""
    text = _DETAIL_LINE.sub("DETAIL: [row values dropped]", text)
    return _DB_DETAIL.sub(lambda m: f"{m.group(1)} ([row values dropped])", text)


def scrub_log_event(logger, method_name, event_dict):
    """structlog processor: no query string, no quoted row, in any log line."""
    for key in URL_KEYS & event_dict.keys():
        event_dict[key] = strip_query(event_dict[key])
    for key in DROPPED_KEYS & event_dict.keys():
        event_dict.pop(key)
    for key in ("exception", "error", "event"):
        if isinstance(event_dict.get(key), str):
            event_dict[key] = sanitize_error_text(event_dict[key])
    return event_dict


def _scrubbed_attributes(attributes) -> dict:
    clean = {}
    for key, value in (attributes or {}).items():
        if key in DROPPED_KEYS:
            continue
        if key in URL_KEYS:
            value = strip_query(value)
        if key in ("exception.message", "exception.stacktrace") and isinstance(value, str):
            value = sanitize_error_text(value)
        clean[key] = value
    return clean


# Attribute keys a scrub may change or drop: a span with none of them (and no events, no status text,
# no query string in its name) leaves as it is, without a copy.
_SCRUBBED_KEYS = URL_KEYS | DROPPED_KEYS | {"exception.message", "exception.stacktrace"}


def _needs_scrubbing(span: ReadableSpan) -> bool:
    if span.events or span.status.description or "?" in span.name:
        return True
    attributes = span.attributes
    return bool(attributes) and not _SCRUBBED_KEYS.isdisjoint(attributes.keys())


def scrubbed_span(span: ReadableSpan) -> ReadableSpan:
    if not _needs_scrubbing(span):
        return span
    events = [SpanEvent(e.name, _scrubbed_attributes(e.attributes), e.timestamp) for e in span.events]
    status = span.status
    if status.description:
        from opentelemetry.trace import Status

        status = Status(status.status_code, sanitize_error_text(status.description))
    return ReadableSpan(
        name=strip_query(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_scrubbed_attributes(span.attributes),
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


_EXCEPTION_KEYS = frozenset({"exception.message", "exception.stacktrace"})
_DROPPED_OR_EXCEPTION_KEYS = DROPPED_KEYS | _EXCEPTION_KEYS


def span_needs_scrubbing(span: ReadableSpan) -> bool:
    """Whether ``scrubbed_span`` would change anything: a query string in the name or a URL
    attribute, a dropped key, exception text, an error description or events. Most spans (the
    participant and database spans of a request) have none of these and leave as they are."""
    if span.events or span.status.description or "?" in span.name:
        return True
    attributes = span.attributes or {}
    # frozenset methods walk the attribute keys in C; a keys() view's isdisjoint is a Python loop.
    if not _DROPPED_OR_EXCEPTION_KEYS.isdisjoint(attributes):
        return True
    for key in URL_KEYS.intersection(attributes):
        value = attributes[key]
        if isinstance(value, str) and "?" in value:
            return True
    return False


class _LastScrubbed(threading.local):
    source: ReadableSpan | None = None
    scrubbed: ReadableSpan | None = None


_last = _LastScrubbed()


def scrubbed_once(span: ReadableSpan) -> ReadableSpan:
    """The span as it may leave the process. Every exporting processor gets the same span in turn
    (the trace store and OTLP or the in-process store): it is scrubbed once, not once per processor."""
    if not span_needs_scrubbing(span):
        return span
    if _last.source is span:
        return _last.scrubbed
    clean = scrubbed_span(span)
    _last.source, _last.scrubbed = span, clean
    return clean


class ScrubbingOnEnd(SpanProcessor):
    """Mixed in before an exporting processor: it hands that processor a scrubbed copy of each span."""

    def on_end(self, span: ReadableSpan) -> None:
        super().on_end(scrubbed_once(span))
