from django.core.management.base import BaseCommand, CommandError

from apps.core.resolver import ShardMapMissing
from apps.patients.seeding import lab_seed


class Command(BaseCommand):
    help = (
        "Create synthetic lab data: Faker patients spread over every shard, clinicians with care-team "
        "assignments, billing admins, an SRE and an operator, each persona user with an API token. "
        "Idempotent; deterministic for a given --seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=200, help="Number of patients (default 200).")
        parser.add_argument("--seed", type=int, default=0, help="Seed for the synthetic data (default 0).")

    def handle(self, *args, patients: int, seed: int, **options):
        if patients < 1:
            raise CommandError("--patients must be at least 1.")
        try:
            summary = lab_seed(patients=patients, seed=seed, progress=self.stdout.write)
        except ShardMapMissing as exc:
            raise CommandError(str(exc)) from exc
        per_shard = (
            ", ".join(f"{alias}: {count}" for alias, count in sorted(summary.patients_created.items())) or "none"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded: {summary.patients_created_total} new patients ({per_shard}), "
                f"{summary.patients_existing} already present, {summary.care_team_created} care-team assignments, "
                f"{summary.users_created} users, {summary.tokens_created} tokens."
            )
        )
