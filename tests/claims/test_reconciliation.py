"""financial_reconcile and projections_verify: the validation tools of runbook 22."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from apps.projections.models import FinancialDailyAggregate
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory
from tests.support.envelopes import publish_pending_outbox

pytestmark = pytest.mark.django_db(databases="__all__")


def test_reconcile_flags_unprojected_claims_then_passes(billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory()
    post_claim(client, claim_body(encounter))
    with pytest.raises(CommandError, match="1 day/payer/status buckets differ"):
        call_command("financial_reconcile", "--settle-seconds", "0", stdout=StringIO(), stderr=StringIO())
    publish_pending_outbox(using=encounter._state.db)
    ProjectionConsumer(bus=get_event_bus(), consumer="w").drain()
    out = StringIO()
    call_command("financial_reconcile", "--settle-seconds", "0", stdout=out)
    assert "match" in out.getvalue() and "checked 1 claims on shards, 1 projected" in out.getvalue()


def test_verify_detects_a_damaged_read_model_and_changes_nothing(billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory()
    post_claim(client, claim_body(encounter))
    publish_pending_outbox(using=encounter._state.db)
    ProjectionConsumer(bus=get_event_bus(), consumer="w").drain()
    call_command("projections_verify", stdout=StringIO())

    FinancialDailyAggregate.objects.update(claim_count=7)
    with pytest.raises(CommandError, match="differ"):
        call_command("projections_verify", stdout=StringIO(), stderr=StringIO())
    assert FinancialDailyAggregate.objects.get().claim_count == 7  # verification rolled back its replay
    call_command("projections_rebuild", stdout=StringIO())
    call_command("projections_verify", stdout=StringIO())
