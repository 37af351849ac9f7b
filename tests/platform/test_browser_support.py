"""tests/support/browser.py leaves no database connection behind: a connection left open keeps
PostgreSQL from dropping the test databases at the end of the session."""

import pytest
from django.db import connections

from tests.support.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def backend_pid() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def other_sessions() -> set[int]:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_connection_the_test_opens_while_chromium_runs_is_closed_with_chromium():
    outer = backend_pid()
    with chromium():
        inner = backend_pid()
        # Playwright's loop runs in this thread meanwhile, so Django hands out another connection.
        assert inner != outer
    assert backend_pid() == outer
    assert inner not in other_sessions()
