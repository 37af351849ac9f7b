from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.probes.sequence_drift import report_lines, sequences_validate


class Command(BaseCommand):
    help = "Check that the runtime sequence catalog's diagrams, paths, spans, metrics and dashboards match the code."

    def add_arguments(self, parser):
        parser.add_argument(
            "--catalog",
            default=settings.PIMLAB_SEQUENCE_CATALOG,
            help=f"catalog to check, relative to the repository (default {settings.PIMLAB_SEQUENCE_CATALOG})",
        )
        parser.add_argument(
            "--seed",
            default=settings.PIMLAB_SEQUENCE_SEED,
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
