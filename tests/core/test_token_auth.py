"""Token authentication per persona role with the reusable permission classes."""

import pytest
from rest_framework.test import APIClient

from apps.core.models import PersonaRole
from tests.factories import PatientFactory, persona_user

pytestmark = [
    pytest.mark.django_db(databases="__all__"),
    pytest.mark.urls("tests.core.permission_urls"),
]

ROLES = list(PersonaRole.values)


@pytest.fixture
def tokens():
    result = {}
    for role in ROLES:
        patient = PatientFactory() if role == PersonaRole.PATIENT else None
        _, key = persona_user(role, patient=patient, username=f"{role}-user")
        result[role] = key
    return result


def get(path, token=None):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(path)


@pytest.mark.parametrize("guard", ROLES)
@pytest.mark.parametrize("caller", ROLES)
def test_each_role_passes_only_its_own_guard(tokens, guard, caller):
    response = get(f"/guarded/{guard}/", tokens[caller])
    if guard == caller:
        assert response.status_code == 200
        assert response.json() == {"user": f"{caller}-user", "role": caller}
    else:
        assert response.status_code == 403
        body = response.json()
        assert response["Content-Type"].startswith("application/problem+json")
        assert guard in body["detail"] and caller in body["detail"]
        assert body["remediation"]


@pytest.mark.parametrize(("caller", "status"), [("clinician", 200), ("billing_admin", 200), ("patient", 403)])
def test_a_guard_for_several_roles(tokens, caller, status):
    assert get("/guarded/care/", tokens[caller]).status_code == status


def test_no_token_is_401_with_remediation():
    response = get("/guarded/patient/")
    assert response.status_code == 401
    assert "Token" in response.json()["remediation"]


def test_an_unknown_token_is_401_and_names_the_command_to_get_one():
    response = get("/guarded/patient/", "0" * 40)
    assert response.status_code == 401
    assert "persona_tokens" in response.json()["detail"]


def test_a_user_without_persona_is_refused(tokens):
    from apps.core.tokens import api_token_issue
    from tests.factories import UserFactory

    user = UserFactory(username="no-persona")
    token = api_token_issue(user=user)
    response = get("/guarded/sre/", token)
    assert response.status_code == 403
    assert "none" in response.json()["detail"]


def test_an_inactive_persona_user_is_refused(tokens):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="sre-user").update(is_active=False)
    assert get("/guarded/sre/", tokens["sre"]).status_code == 401
