from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.support.claims import claims_lab_reset
from tests.support.envelopes import claim_paid, claim_submitted, encounter_created


@pytest.fixture(autouse=True)
def clean_redis(request):
    yield from claims_lab_reset(request)


def synthetic_history(*, claims: int, seed: int = 7, paid_share: float = 0.4) -> list[dict]:
    """Envelopes for ``claims`` encounters and their claims (some paid), in commit order."""
    rng = random.Random(seed)
    base = timezone.now().replace(microsecond=0) - timedelta(days=10)
    payers = ["ACME-HEALTH", "BLUE-RIVER", "MEDICARE", "SELF-PAY"]
    history = []
    for index in range(claims):
        encounter_id, claim_id, patient_id = 10_000 + index, 900_000 + index, 500 + index % 37
        start = base + timedelta(hours=rng.randrange(0, 96))
        history.append(
            encounter_created(
                encounter_id=encounter_id,
                patient_id=patient_id,
                requested_start=start,
                occurred_at=start - timedelta(days=2),
            )
        )
        submitted = start + timedelta(hours=rng.randrange(1, 48), seconds=rng.randrange(3600))
        amount = Decimal(rng.randrange(2000, 90000)) / 100
        history.append(
            claim_submitted(
                claim_id=claim_id,
                encounter_id=encounter_id,
                payer_code=rng.choice(payers),
                total_amount=amount,
                submitted_at=submitted,
                patient_id=patient_id,
            )
        )
        if rng.random() < paid_share:
            history.append(
                claim_paid(
                    claim_id=claim_id,
                    paid_amount=amount - Decimal("1.00"),
                    paid_at=submitted + timedelta(days=1),
                    patient_id=patient_id,
                )
            )
    return sorted(history, key=lambda envelope: envelope["occurred_at"])
