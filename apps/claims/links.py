"""Links returned to API callers: the claim itself and the trace of the request that submitted it."""

from __future__ import annotations

from django.conf import settings


def trace_link(trace_id: str) -> str:
    # Point at Grafana/Tempo in production by setting PIMLAB_TRACE_URL_TEMPLATE; the portal's trace
    # page reads the in-process span store otherwise.
    template = settings.PIMLAB_TRACE_URL_TEMPLATE
    return template.format(trace_id=trace_id) if trace_id else ""


def claim_link(claim_id: int) -> str:
    return f"/api/claims/{claim_id}"
