"""The lab in miniature for the route matrix: one patient with a finished, billed visit, a clinician
on their care team and one off it, a billing admin, and the SRE and operator (staff, as seed_lab
makes them). Each persona has a session and an API token, like a browser and a script."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from django.test import Client

from apps.core.models import PersonaRole
from tests.factories import EncounterFactory, PatientFactory, care_team_member, persona_user

from .routes import Route

# Model pages of the admin that get a real row (the PHI ones); other object pages get id 0.
ADMIN_OBJECTS = {
    "patients/patient": "patient",
    "encounters/encounter": "encounter",
    "claims/claim": "claim",
    "claims/claimlineitem": "line_item",
}


@dataclass
class RouteWorld:
    users: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)

    def params_for(self, route: Route) -> dict[str, str]:
        object_id = "0"
        for fragment, kind in ADMIN_OBJECTS.items():
            if f"admin/{fragment}/" in route.pattern:
                object_id = self.ids[kind]
        return {
            "encounter_id": self.ids["encounter"],
            "claim_id": self.ids["claim"],
            "trace_id": "0" * 32,
            "revision_id": "999999",
            "run_id": "999999",
            "name": "no-such-slo",
            "object_id": object_id,
            "id": str(self.users["patient"].pk),
            "app_label": "encounters",
            "content_type_id": "0",
            "uidb64": "MQ",
            "token": "set-password",
            "url": "no-such-page/",
            "path": "no-such-doc.md",
        }

    def request(self, persona: str, method: str, path: str):
        client = self.clients[persona]
        headers = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}
        if persona != "anonymous" and path.startswith("/api/"):
            headers["HTTP_AUTHORIZATION"] = f"Token {self.tokens[persona]}"
        if method == "get":
            return client.get(path, **headers)
        return getattr(client, method)(path, data={}, content_type="application/json", **headers)


@pytest.fixture
def route_world(db) -> RouteWorld:
    world = RouteWorld()
    patient = PatientFactory(bucket=3)
    encounter = EncounterFactory(patient=patient)
    roles = {
        "patient": PersonaRole.PATIENT,
        "clinician_on": PersonaRole.CLINICIAN,
        "clinician_off": PersonaRole.CLINICIAN,
        "billing_admin": PersonaRole.BILLING_ADMIN,
        "sre": PersonaRole.SRE,
        "operator": PersonaRole.OPERATOR,
    }
    for persona, role in roles.items():
        user, token = persona_user(role, patient=patient if persona == "patient" else None)
        if persona in ("sre", "operator"):
            user.is_staff = user.is_superuser = True
            user.save()
        world.users[persona], world.tokens[persona] = user, token
    care_team_member(patient, world.users["clinician_on"])
    world.ids = {"patient": str(patient.id), "encounter": str(encounter.id)}
    claim = Client().post(
        "/api/claims",
        {
            "patient_id": str(patient.id),
            "encounter_id": str(encounter.id),
            "payer_code": "ACME-HEALTH",
            "line_items": [{"procedure_code": "99213", "diagnosis_codes": ["I10"], "units": 1, "unit_price": "80"}],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {world.tokens['billing_admin']}",
        HTTP_IDEMPOTENCY_KEY="route-matrix",
    )
    assert claim.status_code == 202, claim.content
    world.ids["claim"] = claim.json()["claim_id"]
    from apps.claims.models import ClaimLineItem

    world.ids["line_item"] = str(ClaimLineItem.objects.using(patient._state.db).get().id)
    world.clients["anonymous"] = Client()
    for persona, user in world.users.items():
        world.clients[persona] = Client()
        world.clients[persona].force_login(user)
    return world
