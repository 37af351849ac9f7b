from django.core.management.base import BaseCommand, CommandError

from apps.claims.workload_seeding import WorkloadSeedUnavailable, lab_workload_seed


class Command(BaseCommand):
    help = (
        "Give a seeded lab some history: visits booked and finished by care-team clinicians and billed by "
        "a billing admin, all through the real services (audit and outbox included). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--visits", type=int, default=60, help="Patients that get a visit (default 60).")

    def handle(self, *args, visits: int, **options):
        if visits < 0:
            raise CommandError("--visits must be 0 or more.")
        try:
            summary = lab_workload_seed(visits=visits, progress=self.stdout.write)
        except WorkloadSeedUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Workload: {summary.booked} visits booked ({summary.already_booked} already there), "
                f"{summary.finished} finished, {summary.claims_submitted} claims submitted."
            )
        )
