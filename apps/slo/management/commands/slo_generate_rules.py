from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.slo.prometheus_rules import prometheus_rules_yaml
from apps.slo.specs import SpecError, load_spec_directory


class Command(BaseCommand):
    help = "Generate Prometheus recording and alerting rules from the SLO specs (Sloth-style)."

    def add_arguments(self, parser):
        parser.add_argument("--specs", default=str(settings.PIMLAB_SLO_SPECS_DIR), help="folder of SLO specs")
        parser.add_argument(
            "--output",
            default=str(settings.BASE_DIR / "dashboards" / "prometheus" / "slo-rules.yaml"),
            help="rules file to write ('-' for stdout)",
        )
        parser.add_argument("--check", action="store_true", help="fail if the output file is not up to date")

    def handle(self, *args, specs, output, check, **options):
        try:
            definitions = load_spec_directory(Path(specs))
        except SpecError as exc:
            raise CommandError(str(exc)) from exc
        rendered = prometheus_rules_yaml(definitions)
        if output == "-":
            self.stdout.write(rendered, ending="")
            return
        path = Path(output)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != rendered:
                raise CommandError(f"{path} is out of date: run `python manage.py slo_generate_rules`.")
            self.stdout.write(f"{path} is up to date ({len(definitions)} SLOs).")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        self.stdout.write(f"wrote {path} ({len(definitions)} SLOs)")
