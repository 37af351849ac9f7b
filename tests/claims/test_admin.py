"""Operators can browse every claims and projections model in the Django admin, shard by shard."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.claims.services.retention import claims_retention_sweep
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory

pytestmark = pytest.mark.django_db(databases="__all__")

CATALOG_CHANGELISTS = [
    "claims/retentionpolicy",
    "claims/payer",
    "claims/amountceiling",
    "claims/staffpatientrecord",
    "projections/financialdailyaggregate",
    "projections/claimfact",
    "projections/encounterfact",
    "projections/processedevent",
    "projections/projectioncheckpoint",
]
SHARD_CHANGELISTS = ["claims/claim", "claims/claimlineitem", "claims/archivedclaim", "claims/legalhold"]


@pytest.fixture
def operator_browser():
    admin = get_user_model().objects.create_superuser("ops", "ops@example.test", "pass-word-123")
    browser = Client()
    browser.force_login(admin)
    return browser


def test_every_changelist_renders_on_each_shard(operator_browser, billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory()
    claim_id = post_claim(client, claim_body(encounter)).json()["claim_id"]
    for path in CATALOG_CHANGELISTS:
        assert operator_browser.get(f"/admin/{path}/").status_code == 200, path
    for path in SHARD_CHANGELISTS:
        for shard in ("shard_0", "shard_1"):
            response = operator_browser.get(f"/admin/{path}/?shard={shard}")
            assert response.status_code == 200, (path, shard)
    listing = operator_browser.get(f"/admin/claims/claim/?shard={encounter._state.db}").content.decode()
    assert claim_id in listing
    detail = operator_browser.get(f"/admin/claims/claim/{claim_id}/change/")
    assert detail.status_code == 200 and "99213" in detail.content.decode()


def test_archived_claims_are_readable_but_not_editable(operator_browser, billing_admin):
    from datetime import timedelta

    from django.utils import timezone

    _user, client = billing_admin
    encounter = EncounterFactory()
    claim_id = post_claim(client, claim_body(encounter)).json()["claim_id"]
    # Only paid claims are archived (an open claim must stay payable).
    paid = client.post(
        f"/api/claims/{claim_id}/payment", {"paid_amount": "151.00"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )
    assert paid.status_code in (200, 201), paid.content
    claims_retention_sweep(now=timezone.now() + timedelta(days=400))
    listing = operator_browser.get(f"/admin/claims/archivedclaim/?shard={encounter._state.db}&q={claim_id}")
    assert listing.status_code == 200 and claim_id in listing.content.decode()
    assert operator_browser.get("/admin/claims/archivedclaim/add/").status_code == 403
