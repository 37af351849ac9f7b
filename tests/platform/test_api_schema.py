"""The published OpenAPI schema says what the server does (checked on the generated document;
``test_api_contract`` checks it against the running API)."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.core.ids import ID_PATTERN

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_documents_its_errors_as_problem_json(schema):
    for path, method, operation in _operations(schema):
        errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
        assert "503" in errors, (method, path)
        if operation.get("security") not in ([{}], None) and path != "/api/chaos/schema":
            assert {"401", "403"} <= errors.keys(), (method, path)
        if operation.get("security") is None:  # its own credentials (the Alertmanager receiver's token)
            assert "401" in errors, (method, path)
        if "{" in path:
            assert "404" in errors, (method, path)
        if "requestBody" in operation:
            assert {"400", "415"} <= errors.keys(), (method, path)
        for response in errors.values():
            assert response["content"]["application/problem+json"]["schema"]["$ref"] == PROBLEM_REF, (method, path)


def test_declared_domain_errors_are_documented(schema):
    patch = schema["paths"]["/api/encounters/{encounter_id}/notes"]["patch"]["responses"]
    assert {"412", "422", "428", "503"} <= patch.keys()
    booking = schema["paths"]["/api/encounters"]["post"]["responses"]
    # A reused Idempotency-Key is a 422 for bookings and claims alike (ADR-013), no longer a 409.
    assert {"410", "422"} <= booking.keys() and "409" not in booking
    assert "422" in schema["paths"]["/api/claims"]["post"]["responses"]


def test_response_shapes_match_the_bodies(schema):
    slo = _resolve(
        schema, schema["paths"]["/api/slo"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    assert slo["type"] == "object" and slo["properties"]["slos"]["type"] == "array"
    for path in ("/api/chaos/activities", "/api/chaos/annotations"):
        body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert body["type"] == "array", path


def test_enforced_constraints_are_in_the_schema(schema):
    components = schema["components"]["schemas"]
    note = components["PatchedEncounterNoteInputRequest"]
    assert {tuple(option["required"]) for option in note["anyOf"]} == {("text",), ("status",), ("released",)}
    reason = components["EncounterBookInputRequest"]["properties"]["reason"]
    assert reason["minLength"] == 1 and reason["pattern"] == r"\S"
    assert components["RunCloseInputRequest"]["properties"]["adr_ref"]["pattern"] == r"\S"
    paid = components["ClaimPaymentInputRequest"]["properties"]["paid_amount"]
    assert (
        not re.match(paid["pattern"], "") and not re.match(paid["pattern"], "-1") and re.match(paid["pattern"], "1.5")
    )


def test_ids_have_one_representation(schema):
    components = schema["components"]["schemas"]
    for component, field in (
        ("EncounterBookInputRequest", "patient_id"),
        ("ClaimSubmitInputRequest", "patient_id"),
        ("ClaimSubmitInputRequest", "encounter_id"),
    ):
        id_field = components[component]["properties"][field]
        assert (id_field["type"], id_field["pattern"]) == ("string", ID_PATTERN), component
    for path, method, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                assert parameter["schema"] == {"type": "string", "pattern": ID_PATTERN}, (method, path)
    for component in ("EncounterBookingOutput", "ClaimDetailOutput", "EncounterNote", "ChaosRun", "ChaosRevision"):
        properties = components[component]["properties"]
        for name, prop in properties.items():
            if name == "id" or name.endswith("_id"):
                assert prop.get("type") == "string", (component, name)


def test_component_names_say_what_they_are(schema):
    names = schema["components"]["schemas"].keys()
    generic = {"Input", "Output", "InputRequest", "Revision", "Run", "Serializer"}
    assert not generic & names
    assert all(not name.startswith(("Input", "Output")) for name in names)
