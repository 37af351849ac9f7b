"""Pure logic: the error budget a chaos run consumed, from the engine's status lists at its start and end."""

from __future__ import annotations

import pytest

from apps.slo.selectors import budget_consumed


def status(name: str, ratio: float, minutes: float) -> dict:
    return {"name": name, "error_budget_remaining_ratio": ratio, "error_budget_remaining_minutes": minutes}


def test_budget_consumed_is_the_budget_left_at_start_minus_at_end_per_slo():
    before = [status("api-availability", 0.90, 38.88), status("booking-latency", 0.50, 21.6)]
    after = [status("booking-latency", 0.45, 19.44), status("api-availability", 0.65, 28.08)]
    rows = budget_consumed(before=before, after=after)
    assert [r["name"] for r in rows] == ["booking-latency", "api-availability"]  # the order of the end
    latency, availability = rows
    assert (latency["before"], latency["after"]) == (0.50, 0.45)
    assert latency["consumed"] == pytest.approx(0.05) and latency["minutes"] == pytest.approx(2.16)
    assert availability["consumed"] == pytest.approx(0.25) and availability["minutes"] == pytest.approx(10.8)


def test_an_slo_missing_at_either_end_is_left_out_and_budget_won_back_is_negative():
    before = [status("old", 0.5, 10.0), status("kept", 0.2, 4.0)]
    after = [status("kept", 0.3, 6.0), status("new", 1.0, 43.2)]
    rows = budget_consumed(before=before, after=after)
    assert [r["name"] for r in rows] == ["kept"]
    assert rows[0]["consumed"] == pytest.approx(-0.1) and rows[0]["minutes"] == pytest.approx(-2.0)
    assert budget_consumed(before=[], after=after) == []
