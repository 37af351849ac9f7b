"""Every route of the URL conf × every persona answers the status the access matrix names
(tests/access/route_matrix.py). A new route without a row fails here."""

from __future__ import annotations

import fnmatch

import pytest

from tests.access.route_matrix import MATRIX
from tests.access.routes import PERSONAS, Route, all_routes, concrete_path

pytestmark = pytest.mark.django_db(databases="__all__")


def matrix_row(route: Route) -> str | None:
    if route.key in MATRIX:
        return MATRIX[route.key]
    return next((row for key, row in MATRIX.items() if "*" in key and fnmatch.fnmatchcase(route.key, key)), None)


def test_every_route_has_a_row():
    missing = [f"{r.key} ({r.pattern})" for r in all_routes() if matrix_row(r) is None]
    assert not missing, "Add these routes to tests/access/route_matrix.py:\n" + "\n".join(missing)


def test_no_row_names_a_route_that_is_gone():
    keys = {r.key for r in all_routes()}
    stale = [key for key in MATRIX if "*" not in key and key not in keys]
    assert not stale, f"Rows without a route: {stale}"


def test_every_route_answers_each_persona_as_the_matrix_says(route_world):
    wrong = []
    for route in all_routes():
        if matrix_row(route) is None:
            wrong.append(f"{route.key}: no row in the matrix")
            continue
        row = matrix_row(route).split()
        method = row.pop(0).lower() if not row[0].isdigit() else "get"
        path = concrete_path(route, route_world.params_for(route))
        got = [route_world.request(persona, method, path).status_code for persona in PERSONAS]
        if got != [int(code) for code in row]:
            wrong.append(
                f"{method.upper()} {path} [{route.key}]: expected {' '.join(row)}, got {' '.join(map(str, got))}"
            )
    assert not wrong, "\n".join(wrong)
