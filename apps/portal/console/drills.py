"""Chaos drills in the console: experiments and revisions, the governed actions as POST forms (through
the services the chaos API calls), the live run page (htmx polling) and the run report."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.chaos import ctk, selectors, services
from apps.chaos.models import ChaosSwitch, RunStatus
from apps.core.errors import DomainError
from apps.slo.prometheus_reader import PrometheusQueryError
from apps.slo.selectors import slo_budget_consumed
from apps.telemetry import context as telemetry_context

from .access import can_act, console_actor, console_reader, refusal
from .charts import bands_on, chart_block, chart_spec, clock_label
from .highlight import highlighted

# Refusals of the chaos services (ChaosRuleViolation and every other DomainError).
REFUSALS = (DomainError,)
TERMINAL = {RunStatus.COMPLETED, RunStatus.ABORTED, RunStatus.FAILED, RunStatus.CLOSED}
POLL_SECONDS = 2


def verdict(outcome: str, status: str, deviated: bool) -> dict:
    """The run's verdict in words, with a style as a second cue."""
    if status == RunStatus.RUNNING:
        return {"word": "Running", "style": "primary", "text": "The drill is running."}
    outcome = outcome or status
    if outcome == "completed":
        return {
            "word": "Passed",
            "style": "success",
            "text": "The method completed and the steady state held before and after it.",
        }
    if outcome == "aborted":
        return {"word": "Aborted", "style": "secondary", "text": "Stopped before the end; rollbacks ran."}
    if deviated:
        return {"word": "Deviated", "style": "danger", "text": "The steady state did not hold after the method."}
    return {"word": "Failed", "style": "danger", "text": "A step or the steady state failed; rollbacks ran."}


# --- experiments ---------------------------------------------------------------------------------


@require_GET
@console_reader
def drill_list_page(request):
    experiments = []
    for experiment in selectors.experiment_list_with_runs():
        revisions = list(experiment.revisions.all())
        rows = []
        for revision in revisions:
            runs = list(revision.runs.all())
            last = runs[0] if runs else None
            rows.append(
                {
                    "revision": revision,
                    "last_run": last,
                    "verdict": verdict(last.outcome, last.status, last.deviated) if last else None,
                    "runs": len(runs),
                }
            )
        current = revisions[0] if revisions else None
        experiments.append(
            {
                "experiment": experiment,
                "rows": rows,
                "missing": selectors.revision_readiness(current) if current else [],
            }
        )
    context = {
        "experiments": experiments,
        "runs": [
            {"run": run, "verdict": verdict(run.outcome, run.status, run.deviated)} for run in selectors.run_list()
        ],
        "switch": ChaosSwitch.objects.filter(pk=1).first(),
        "can_act": can_act(request.user),
    }
    return render(request, "console/drills.html", context)


class SubmitForm(forms.Form):
    name = forms.SlugField(
        max_length=150,
        label="Name",
        help_text="Lower-case letters, digits and hyphens; the experiment becomes api/<name>.",
        error_messages={
            "required": "Enter a name",
            "invalid": "Name must use only lower-case letters, digits, hyphens and underscores",
        },
    )
    manifest = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "font-monospace"}),
        label="Manifest (YAML)",
        help_text="As in chaos/experiments/*.yaml; the dry-run checks it before anyone can approve it.",
        error_messages={"required": "Enter the manifest"},
    )


@require_http_methods(["GET", "POST"])
@console_actor
def drill_submit_page(request):
    form = SubmitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            revision = services.experiment_submit(
                key=f"api/{form.cleaned_data['name']}",
                manifest_text=form.cleaned_data["manifest"],
                author=request.user.username,
            )
        except DomainError as exc:  # e.g. a manifest that is not YAML: shown next to its field
            field = getattr(exc, "field", None)
            form.add_error(field if field in form.fields else None, f"{exc.detail} {exc.remediation}".strip())
        else:
            messages.success(request, f"Revision {revision.number} of {revision.experiment.key} recorded as a draft.")
            return redirect("console-revision", revision_id=revision.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "console/drill_submit.html", {"form": form}, status=status)


def _revision_or_404(revision_id: int):
    revision = selectors.revision_get(revision_id)
    if revision is None:
        raise Http404(f"No revision {revision_id}; the drills page lists them.")
    return revision


def _render_revision(request, revision, *, refused: dict | None = None, status: int = 200):
    runs = [
        {"run": run, "verdict": verdict(run.outcome, run.status, run.deviated)}
        for run in revision.runs.defer("journal").order_by("-started_at")
    ]
    context = {
        "revision": revision,
        "manifest": highlighted(revision.manifest_text, "yaml"),
        "report": revision.dry_run_report or None,
        "missing": selectors.revision_readiness(revision),
        "runs": runs,
        "can_act": can_act(request.user),
        "is_author": request.user.username == revision.author,
        "refusal": refused,
    }
    return render(request, "console/revision.html", context, status=status)


@require_GET
@console_reader
def revision_page(request, revision_id: int):
    return _render_revision(request, _revision_or_404(revision_id))


def _governed(request, action, *, refused_title: str, on_refusal, done):
    """One governed drill action: ``action()`` calls the chaos service; a refusal re-renders the page
    through ``on_refusal(refusal, status)`` with the service's reason and status; success goes to
    ``done(result)``, which returns ``(message level or None, message, redirect target, kwargs)``."""
    try:
        result = action()
    except REFUSALS as exc:
        return on_refusal(refusal(exc, title=refused_title), getattr(exc, "status", 409))
    level, text, target, kwargs = done(result)
    if level is not None:
        messages.add_message(request, level, text)
    return redirect(target, **kwargs)


@require_POST
@console_actor
def revision_dry_run_action(request, revision_id: int):
    revision = _revision_or_404(revision_id)
    return _governed(
        request,
        lambda: services.revision_dry_run(revision=revision),
        refused_title="Dry-run refused",
        on_refusal=lambda refused, status: _render_revision(request, revision, refused=refused, status=status),
        done=lambda report: (
            messages.INFO,
            f"Dry-run {'passed' if report['ok'] else 'failed'}.",
            "console-revision",
            {"revision_id": revision.pk},
        ),
    )


@require_POST
@console_actor
def revision_approve_action(request, revision_id: int):
    revision = _revision_or_404(revision_id)

    def refused(refusal_, status):
        revision.refresh_from_db()
        return _render_revision(request, revision, refused=refusal_, status=status)

    return _governed(
        request,
        lambda: services.revision_approve(revision=revision, approver=request.user.username),
        refused_title="Approval refused",
        on_refusal=refused,
        done=lambda _: (
            messages.SUCCESS,
            f"Revision {revision.number} approved by {request.user.username}.",
            "console-revision",
            {"revision_id": revision.pk},
        ),
    )


@require_http_methods(["GET", "POST"])
@console_actor
def revision_launch_page(request, revision_id: int):
    """GET: what the launch will do, to confirm. POST (confirmed): launch; the chaos service hands the
    run to a worker once committed, as for the API."""
    revision = _revision_or_404(revision_id)
    context = {"revision": revision, "missing": selectors.revision_readiness(revision)}
    if request.method == "GET":
        return render(request, "console/launch_confirm.html", context)
    if request.POST.get("confirm") != "inject":
        context["refusal"] = {
            "title": "Confirm the launch",
            "detail": "Tick the box to confirm that this drill injects a real fault.",
            "remediation": "Tick the box to confirm that this drill injects a real fault.",
        }
        return render(request, "console/launch_confirm.html", context, status=400)
    return _governed(
        request,
        lambda: services.run_launch(
            revision=revision,
            launched_by=request.user.username,
            request_id=telemetry_context.current().get("request_id") or "",
        ),
        refused_title="Launch refused",
        on_refusal=lambda refused, status: render(
            request, "console/launch_confirm.html", {**context, "refusal": refused}, status=status
        ),
        done=lambda run: (None, "", "console-run", {"run_id": run.pk}),
    )


@require_POST
@console_actor
def kill_switch_action(request):
    engaged = request.POST.get("engaged") == "on"
    reason = request.POST.get("reason", "").strip()
    if engaged and not reason:
        messages.error(request, "Enter why the kill switch is engaged; it is recorded with your name.")
        return redirect("console-drills")
    services.kill_switch_set(engaged=engaged, changed_by=request.user.username, reason=reason)
    if engaged:
        messages.warning(request, "Kill switch engaged: running drills abort and no launch is accepted.")
    else:
        messages.success(request, "Kill switch released: drills may be launched again.")
    return redirect("console-drills")


# --- runs ---------------------------------------------------------------------------------------


def _run_or_404(run_id: int):
    run = selectors.run_get(run_id)
    if run is None:
        raise Http404(f"No run {run_id}; the drills page lists the runs.")
    return run


def _steady_states(journal: dict) -> list[dict]:
    states = journal.get("steady_states") or {}
    phases = [("before", states.get("before"))]
    phases += [(f"during ({i + 1})", s) for i, s in enumerate(states.get("during") or [])]
    phases.append(("after", states.get("after")))
    rows = []
    for phase, state in phases:
        if not state:
            continue
        for probe in state.get("probes") or []:
            rows.append(
                {
                    "phase": phase,
                    "name": probe["activity"]["name"],
                    "output": probe.get("output"),
                    "tolerance": probe["activity"].get("tolerance"),
                    "met": probe.get("tolerance_met"),
                }
            )
    return rows


def _measurement_chart(journal: dict, band: list[dict]) -> dict | None:
    """Numeric outputs of the probes in the method over time, one line per probe (e.g. outbox backlog)."""
    entries = [
        e
        for e in journal.get("run") or []
        if e["activity"].get("type") == "probe"
        and isinstance(e.get("output"), int | float)
        and not isinstance(e.get("output"), bool)
    ]
    if not entries:
        return None
    moments = [e["end"] for e in entries]
    names = []
    for e in entries:
        label = _probe_label(e["activity"])
        if label not in names:
            names.append(label)
    datasets = [
        {"label": name, "data": [e["output"] if _probe_label(e["activity"]) == name else None for e in entries]}
        for name in names
    ]
    return chart_spec(
        title="Probe measurements in the method",
        moments=moments,
        datasets=datasets,
        y_label="probe output",
        bands=bands_on(moments, band),
        label=clock_label,
    )


def _probe_label(activity: dict) -> str:
    arguments = activity.get("arguments") or {}
    where = ", ".join(f"{v}" for k, v in sorted(arguments.items()) if k in ("shard", "node", "component"))
    return f"{activity.get('probe')}" + (f" ({where})" if where else "")


def _workload_charts(run, band: list[dict]) -> list[dict]:
    series = selectors.run_workload_series(run)
    if not series:
        return []
    moments = [p["t"] for p in series]
    bands = bands_on(moments, band)
    return [
        chart_spec(
            title="Workload request rate",
            moments=moments,
            datasets=[{"label": "requests/s", "data": [p["request_rate"] for p in series]}],
            y_label="requests per second",
            bands=bands,
            label=clock_label,
        ),
        chart_spec(
            title="api_error_ratio of the workload",
            moments=moments,
            datasets=[{"label": "error ratio", "data": [p["api_error_ratio"] for p in series]}],
            y_label="ratio",
            bands=bands,
            label=clock_label,
        ),
        chart_spec(
            title="p99 latency of the workload",
            moments=moments,
            datasets=[{"label": "p99 (s)", "data": [p["p99_seconds"] for p in series]}],
            y_label="seconds",
            bands=bands,
            label=clock_label,
        ),
    ]


def _burn_chart(run, band: list[dict]) -> dict | None:
    """The SLO engine's burn rate of every SLO over the run (frozen at its end; live while it runs)."""
    try:
        series = selectors.run_burn_series(run)
    except PrometheusQueryError:
        return None
    if not series or not series[0]["points"]:
        return None
    moments = [p["t"] for p in series[0]["points"]]
    return chart_spec(
        title=f"SLO burn rate ({selectors.RUN_BURN_WINDOW} window) during the run",
        moments=moments,
        datasets=[{"label": s["name"], "data": [p["burn_rate"] for p in s["points"]]} for s in series],
        y_label="burn rate (× budget)",
        bands=bands_on(moments, band),
        label=clock_label,
    )


def _budget_consumed(run) -> list[dict]:
    """The SLO engine's budget consumed over the run (its start to its end); none while Prometheus is away."""
    try:
        return slo_budget_consumed(start=run.started_at, end=run.ended_at or timezone.now())
    except PrometheusQueryError:
        return []


def run_context(run) -> dict:
    journal = run.journal or {}
    band = [
        {
            "run_id": run.pk,
            "experiment": run.revision.experiment.key,
            "start": run.started_at.isoformat(),
            "end": (run.ended_at or timezone.now()).isoformat(),
        }
    ]
    specs = [_measurement_chart(journal, band), *_workload_charts(run, band), _burn_chart(run, band)]
    charts = [chart_block(f"run-chart-{i}", spec) for i, spec in enumerate(s for s in specs if s)]
    entries = [("step", e) for e in journal.get("run") or []] + [
        ("rollback", e) for e in journal.get("rollbacks") or []
    ]
    manifest = run.revision.manifest or {}
    return {
        "run": run,
        "report": selectors.run_report(run),
        "verdict": verdict(run.outcome, run.status, run.deviated),
        "running": run.status == RunStatus.RUNNING,
        "summary": run.summary or {},
        "timeline": selectors.run_timeline(journal=journal, summary=run.summary or {}),
        "steady_states": _steady_states(journal),
        "unmet_during": sum(
            1 for state in (journal.get("steady_states") or {}).get("during") or [] if not state.get("steady_state_met")
        ),
        "entries": entries,
        "charts": charts,
        "budget": _budget_consumed(run) if run.status != RunStatus.RUNNING else [],
        "runbook": manifest.get("runbook") or "docs/runbooks/32_chaos-controller.md",
        "adr": run.close_adr_ref or manifest.get("adr", ""),
        "poll_seconds": POLL_SECONDS,
    }


@require_GET
@console_reader
def run_page(request, run_id: int):
    run = _run_or_404(run_id)
    return render(request, "console/run.html", {**run_context(run), "can_act": can_act(request.user)})


@require_GET
@console_reader
def run_live_partial(request, run_id: int):
    """The live body of the run page; HTTP 286 once the run is over, which stops htmx polling."""
    run = _run_or_404(run_id)
    context = {**run_context(run), "can_act": can_act(request.user), "partial": True}
    response = render(request, "console/_run_body.html", context)
    if run.status in TERMINAL:
        response.status_code = 286
    return response


def _run_refused(request, run):
    def on_refusal(refused, status):
        context = {**run_context(run), "can_act": True, "refusal": refused}
        return render(request, "console/run.html", context, status=status)

    return on_refusal


@require_POST
@console_actor
def run_abort_action(request, run_id: int):
    run = _run_or_404(run_id)
    return _governed(
        request,
        lambda: services.run_abort(
            run=run, requested_by=request.user.username, reason=request.POST.get("reason", "").strip()
        ),
        refused_title="Abort refused",
        on_refusal=_run_refused(request, run),
        done=lambda _: (
            messages.WARNING,
            f"Abort requested for run {run.pk}; its rollbacks run next.",
            "console-run",
            {"run_id": run.pk},
        ),
    )


@require_POST
@console_actor
def run_close_action(request, run_id: int):
    run = _run_or_404(run_id)
    adr_ref = request.POST.get("adr_ref", "").strip()

    def close():
        if not adr_ref:
            raise DomainError(
                "Enter the ADR reference that records what the drill taught.",
                title="ADR reference missing",
                remediation="Enter a path such as docs/ADR/ADR-012-chaos-governance.md.",
                field="adr_ref",
            )
        return services.run_close(
            run=run, closed_by=request.user.username, adr_ref=adr_ref, notes=request.POST.get("notes", "")
        )

    return _governed(
        request,
        close,
        refused_title="Close refused",
        on_refusal=_run_refused(request, run),
        done=lambda _: (messages.SUCCESS, f"Run {run.pk} closed with {adr_ref}.", "console-run", {"run_id": run.pk}),
    )


@require_GET
@console_reader
def run_journal_download(request, run_id: int):
    """The journal in Chaos Toolkit's format: its experiment is the revision exported by apps.chaos.ctk."""
    run = _run_or_404(run_id)
    journal = dict(run.journal or {})
    manifest = run.revision.manifest or {}
    if manifest:
        journal["experiment"] = ctk.export_experiment(
            manifest, reference=f"{run.revision.experiment.key}@r{run.revision.number}"
        )
    journal["pimlab"] = {"run_id": run.pk, "status": run.status, "summary": run.summary}
    response = HttpResponse(json.dumps(journal, indent=2, default=str), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="chaos-run-{run.pk}-journal.json"'
    return response
