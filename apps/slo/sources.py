"""Where SLI events come from: Prometheus when ``PIMLAB_PROMETHEUS_URL`` is set, else the built-in sampler."""

from __future__ import annotations

from django.conf import settings

from .engine import EventSource
from .models import ServiceLevelObjective
from .prometheus_reader import PrometheusEventSource
from .sampler import SampledEventSource
from .specs import SloDefinition

_definitions: dict[str, SloDefinition] = {}


def default_event_source() -> EventSource:
    url = settings.PIMLAB_PROMETHEUS_URL
    return PrometheusEventSource(url) if url else SampledEventSource()


def definition_of(slo: ServiceLevelObjective) -> SloDefinition:
    """The parsed definition of a stored SLO (parsed once per content hash)."""
    definition = _definitions.get(slo.content_hash)
    if definition is None:
        definition = SloDefinition.from_document(slo.document, origin=slo.source_file or slo.name)
        _definitions[slo.content_hash] = definition
    return definition
