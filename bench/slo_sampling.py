"""How much a built-in sampling round costs, as ratios measured in one run.

    PIMLAB_VAR_DIR=/tmp/bench-var .venv/bin/python bench/slo_sampling.py

Baseline: one GET /healthz through the full middleware stack (which updates the histogram the SLIs
read). Reported: a sampling round for every shipped spec (snapshot of the registry + cumulative
counts) in baseline requests, and the round's cost again after 10,000 more requests (it should not
grow with traffic: the work is per series, not per request).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimlab_portal.settings.local")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from apps.slo.models import SliSample  # noqa: E402
from apps.slo.sampler import local_registry_snapshot, metric_names_of, next_cumulative  # noqa: E402
from apps.slo.specs import load_spec_directory  # noqa: E402


def per_call(function, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    client = Client()
    definitions = load_spec_directory(Path(settings.BASE_DIR) / "slo" / "specs")
    names = metric_names_of(definitions)
    previous = SliSample(total_events=0.0, bad_events=0.0, raw={})
    now = datetime.now(UTC)

    def sampling_round():
        snapshot = local_registry_snapshot(names)
        for definition in definitions:
            next_cumulative(definition, [snapshot], previous, at=now)

    def request():
        client.get("/healthz")

    for _ in range(200):  # warm up: every series exists
        request()
        client.post("/healthz")
    request_cost = per_call(request, 500)
    round_small = per_call(sampling_round, 200)
    for _ in range(10_000):
        request()
    round_large = per_call(sampling_round, 200)
    print(f"specs: {len(definitions)}; baseline GET /healthz median {request_cost * 1e3:.3f} ms")
    print(f"sampling round / one request          = {round_small / request_cost:.2f}")
    print(f"sampling round after 10,000 more requests / before = {round_large / round_small:.2f}")


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)
    main()
