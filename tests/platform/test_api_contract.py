"""The API answers what its OpenAPI schema says, as an outside client would find out.

Schemathesis reads ``/api/schema/`` and sends generated requests (valid and invalid) to every
operation through the project's WSGI application, once per persona token, and runs all of its
checks on every response: no 5xx, status codes, content types, headers and bodies as documented
(problem+json for every error), valid data accepted, invalid data refused.

Nothing is excluded. Two checks get expected statuses wider than schemathesis' defaults, because
a schema-valid request can still be refused for reasons JSON Schema cannot state:
- positive data may get 400 (a past ``requested_start``, an amount above the ceiling, an unknown
  payer), 410 (an archived claim), 412/428 (an ETag that is not the note's current version, or
  none), 422 (an id that names no patient, an encounter that is not finished);
- a request without its required If-Match header gets 428 Precondition Required (RFC 6585),
  which is the precise answer to a missing precondition.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig

from apps.core.models import PersonaRole
from tests.factories import PatientFactory, persona_user

PERSONAS = [
    PersonaRole.PATIENT,
    PersonaRole.CLINICIAN,
    PersonaRole.BILLING_ADMIN,
    PersonaRole.SRE,
    PersonaRole.OPERATOR,
]

# Few examples per operation and persona: the suite stays within about two minutes.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": 3},
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "410", "412", "422", "428"]
            },
            "missing_required_header": {"expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]},
        },
    }
)

pytestmark = pytest.mark.django_db(databases="__all__")


def _api_schema():
    from pimlab_portal.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)


schema = _api_schema()


@pytest.fixture(autouse=True)
def requests_inside_the_test_transaction(request):
    """Each request runs inside the test's transaction (rolled back at the end, which keeps the run
    fast). Foreign keys are checked at once, as the commit that ends a real request would check
    them (Django declares them deferred). And, as Django's test client does, the WSGI handler must
    not close the connections that hold the transaction at the end of each request."""
    request.getfixturevalue("_django_db_helper")
    for alias in settings.SHARD_ALIASES:
        with connections[alias].cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True, scope="module")
def alert_receiver_configured(tmp_path_factory):
    """The lab as `make run`/`make observe` sets it up: the Alertmanager receiver has its token file
    (without one it answers 503 by design, which is not what this contract run is about)."""
    from django.test import override_settings

    from apps.slo.receiver import alert_receiver_token_ensure

    path = tmp_path_factory.mktemp("observe") / "alert-receiver.token"
    with override_settings(PIMLAB_ALERT_RECEIVER_TOKEN_FILE=str(path)):
        alert_receiver_token_ensure(path)
        yield


@pytest.fixture
def persona_tokens():
    patient = PatientFactory()
    return {role: persona_user(role, patient=patient if role == PersonaRole.PATIENT else None)[1] for role in PERSONAS}


@schema.parametrize()
@hypothesis_settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract_for_every_persona(case, persona_tokens):
    for token in persona_tokens.values():
        case.call_and_validate(headers={"Authorization": f"Token {token}"})
