"""Refusals of the projections app."""

from __future__ import annotations

from apps.core.errors import DomainError


class RebuildRefused(DomainError):
    code = "projection_rebuild_refused"
    status = 409
    title = "Rebuild refused: the replay found no events"
    remediation = (
        "The live read models were kept. Check that the shards' outbox tables hold the history "
        "(runbook 18, step 6); rebuild with --allow-empty only if the read models really must be emptied."
    )
