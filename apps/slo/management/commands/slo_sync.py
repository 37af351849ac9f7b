from django.core.management.base import BaseCommand, CommandError

from apps.slo.services import slo_specs_sync


class Command(BaseCommand):
    help = "Load the SLO specs (slo/specs/*.yaml by default) into the catalog."

    def add_arguments(self, parser):
        parser.add_argument("--specs", default=None, help="folder of SLO specs")

    def handle(self, *args, specs, **options):
        report = slo_specs_sync(directory=specs)
        self.stdout.write(
            f"created {report.created or '-'}; updated {report.updated or '-'}; "
            f"unchanged {len(report.unchanged)}; disabled {report.disabled or '-'}"
        )
        if report.errors:
            raise CommandError("\n".join(report.errors))
