"""`python manage.py chaos_launch KEY --as USERNAME`: launch the approved current revision and run it here."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from apps.chaos.models import Experiment, RevisionStatus
from apps.chaos.runner import run_execute
from apps.chaos.services import ChaosRuleViolation, run_launch


class Command(BaseCommand):
    help = "Launch an approved experiment revision and execute it in this process (prints the summary)."

    def add_arguments(self, parser):
        parser.add_argument("key", help="Experiment key, e.g. sql-failover-pod-kill.yaml")
        parser.add_argument("--as", dest="username", required=True, help="The SRE launching it.")

    def handle(self, *args, key: str, username: str, **options):
        experiment = Experiment.objects.filter(key=key).first()
        if experiment is None or experiment.current_revision is None:
            raise CommandError(f"No experiment {key!r}; run chaos_reconcile first.")
        approved = experiment.revisions.filter(status=RevisionStatus.APPROVED).order_by("-number").first()
        try:
            run = run_launch(revision=approved or experiment.current_revision, launched_by=username, enqueue=False)
        except ChaosRuleViolation as exc:
            raise CommandError(str(exc)) from exc
        run = run_execute(run=run)
        self.stdout.write(json.dumps({"run_id": run.pk, "status": run.status, "summary": run.summary}, indent=2))
