"""Bounded retries of one shard transaction on transient SQL errors (a lost connection, a
serialization failure, a deadlock): exponential back-off with jitter, and a broken connection is
dropped before the next attempt so it reconnects (through a multi-host URL, to the new leader)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_exponential_jitter

TRANSIENT_SQL_ERRORS = (OperationalError, InterfaceError)

RetryObserver = Callable[[BaseException, int, float], None]


def transient_sql_retrying(
    *,
    alias: str,
    attempts: int,
    budget_seconds: float,
    on_retry: RetryObserver | None = None,
    max_wait_seconds: float = 1.0,
) -> Retrying:
    """``for attempt in transient_sql_retrying(...): with attempt: <one transaction on alias>``.

    Back-off: 50 ms doubling up to ``max_wait_seconds`` (plus up to 50 ms of jitter), until
    ``attempts`` or ``budget_seconds`` runs out.

    ``on_retry(error, attempt_number, sleep_seconds)`` is called before each back-off (metrics, logs).
    After the budget the last error is re-raised for the API to answer 503 + Retry-After."""

    def before_sleep(retry_state) -> None:
        if on_retry is not None:
            on_retry(retry_state.outcome.exception(), retry_state.attempt_number, retry_state.next_action.sleep)
        connection_reset_if_broken(alias)

    return Retrying(
        retry=retry_if_exception_type(TRANSIENT_SQL_ERRORS),
        stop=stop_after_attempt(attempts) | stop_after_delay(budget_seconds),
        wait=wait_exponential_jitter(multiplier=0.05, max=max_wait_seconds, jitter=0.05),
        before_sleep=before_sleep,
        reraise=True,
    )


def connection_reset_if_broken(alias: str) -> None:
    """Drop a broken connection so the next attempt reconnects (never inside a caller's transaction)."""
    connection = connections[alias]
    if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
        connection.close()
