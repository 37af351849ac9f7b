"""Synthetic probes in the console: the last results per scenario and shard, failures with their
trace, and a button that queues a round of every probe."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.probes.models import ProbeOutcome, ProbeScenario
from apps.probes.selectors import probe_results_recent

from .access import can_act, console_actor, console_reader

STRIP_LENGTH = 20
OUTCOME_SYMBOLS = {ProbeOutcome.SUCCESS: "✓", ProbeOutcome.FAILURE: "✗", ProbeOutcome.SKIPPED: "–"}


@require_GET
@console_reader
def probe_list_page(request):
    results = probe_results_recent()
    strips: dict[tuple[str, str], list] = {}
    for result in results:
        strip = strips.setdefault((result.scenario, result.shard_alias), [])
        if len(strip) < STRIP_LENGTH:
            strip.append(result)
    rows = [
        {
            "scenario": ProbeScenario(scenario).label if scenario in ProbeScenario.values else scenario,
            "shard": shard,
            "last": strip[0],
            "strip": [{"result": r, "symbol": OUTCOME_SYMBOLS.get(r.outcome, "?")} for r in reversed(strip)],
            "passed": sum(1 for r in strip if r.outcome == ProbeOutcome.SUCCESS),
            "total": len(strip),
        }
        for (scenario, shard), strip in sorted(strips.items())
    ]
    failures = [r for r in results if r.outcome == ProbeOutcome.FAILURE][:30]
    return render(
        request,
        "console/probes.html",
        {"rows": rows, "failures": failures, "recent": results[:50], "can_act": can_act(request.user)},
    )


@require_POST
@console_actor
def probe_run_now_action(request):
    from apps.probes.tasks import probes_run_all_task

    probes_run_all_task.delay()
    messages.info(request, "A round of every probe on every shard is queued; results appear here as they finish.")
    return redirect("console-probes")
