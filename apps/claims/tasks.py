from __future__ import annotations

import structlog
from celery import shared_task

from .services.retention import claims_retention_sweep

logger = structlog.get_logger(__name__)


@shared_task(name="claims.retention_sweep", ignore_result=True)
def claims_retention_sweep_task() -> dict:
    result = claims_retention_sweep()
    logger.info("claims_retention_sweep", archived=result.archived, purged=result.purged)
    return {"archived": result.archived, "purged": result.purged}
