import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.probes.sequence_drift import report_lines, sequences_validate

DEFAULT_CATALOG = "docs/requirements/runtime-sequence-catalog.md"
# Where CI (and a checkout beside the shared folder) finds the seed the repository copy must match.
DEFAULT_SEED = "../shared/seed/runtime-sequence-catalog.md"


class Command(BaseCommand):
    help = "Check that the runtime sequence catalog's diagrams, paths, spans, metrics and dashboards match the code."

    def add_arguments(self, parser):
        parser.add_argument(
            "--catalog",
            default=os.environ.get("PIMLAB_SEQUENCE_CATALOG", DEFAULT_CATALOG),
            help=f"catalog to check, relative to the repository (default {DEFAULT_CATALOG})",
        )
        parser.add_argument(
            "--seed",
            default=os.environ.get("PIMLAB_SEQUENCE_SEED", DEFAULT_SEED),
            help="the seed the catalog copy must equal; the check is skipped when the file is absent",
        )

    def handle(self, *args, catalog, seed, **options):
        root = Path(settings.BASE_DIR)
        catalog_path = (root / catalog).resolve()
        if not catalog_path.is_file():
            raise CommandError(f"No catalog at {catalog_path}.")
        report = sequences_validate(catalog_path=catalog_path, root=root, seed_path=(root / seed).resolve())
        self.stdout.write("\n".join(report_lines(report)))
        if report.drift:
            raise CommandError(f"{len(report.drift)} drift finding(s) between the sequence catalog and the repository")
