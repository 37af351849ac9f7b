"""`python manage.py chaos_export ID [--revision] [--out FILE]`: a run's experiment for `chaos run`."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from apps.chaos.ctk import export_experiment
from apps.chaos.models import ExperimentRevision, ExperimentRun


class Command(BaseCommand):
    help = "Write the experiment of a run (or of a revision with --revision) as a Chaos Toolkit experiment."

    def add_arguments(self, parser):
        parser.add_argument("id", type=int, help="Run id (or revision id with --revision).")
        parser.add_argument("--revision", action="store_true", help="ID is a revision id.")
        parser.add_argument("--out", help="File to write (default: stdout).")

    def handle(self, *args, id: int, revision: bool = False, out: str | None = None, **options):
        if revision:
            found = ExperimentRevision.objects.select_related("experiment").filter(pk=id).first()
        else:
            run = ExperimentRun.objects.select_related("revision__experiment").filter(pk=id).first()
            found = run.revision if run else None
        if found is None or not found.manifest:
            raise CommandError(f"No {'revision' if revision else 'run'} {id} with a parsed manifest.")
        reference = f"{found.experiment.key} r{found.number}" + ("" if revision else f" run {id}")
        text = json.dumps(export_experiment(found.manifest, reference=reference, revision_id=found.pk), indent=2)
        if out:
            with open(out, "w") as handle:
                handle.write(text + "\n")
            self.stdout.write(f"Wrote {out}")
        else:
            self.stdout.write(text)
