import json

from django.core.management.base import BaseCommand

from apps.slo.services import slo_evaluate_all


class Command(BaseCommand):
    help = "Run one SLO evaluation round (sampling first when no Prometheus is configured) and print the status."

    def handle(self, *args, **options):
        for status in slo_evaluate_all():
            summary = {k: status[k] for k in ("name", "attainment", "error_budget_remaining_ratio", "alert_state")}
            summary["burn_rates"] = status["burn_rates"]
            self.stdout.write(json.dumps(summary))
