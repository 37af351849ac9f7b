"""`python manage.py chaos_reap`: what the beat reaper does, now (an operator after a worker crash)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from apps.chaos.runner import runs_reap_lost


class Command(BaseCommand):
    help = "Roll back and end the chaos runs whose worker stopped heartbeating (aborted (worker lost))."

    def handle(self, *args, **options):
        reaped = runs_reap_lost()
        self.stdout.write(
            json.dumps(
                [
                    {"run_id": run.pk, "outcome": run.outcome, "rollbacks": run.summary.get("rollbacks")}
                    for run in reaped
                ]
            )
        )
