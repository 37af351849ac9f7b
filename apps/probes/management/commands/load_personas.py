import json
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.probes.personas import probe_identities, probe_personas_ensure


class Command(BaseCommand):
    help = (
        "Write the synthetic personas of the load generator (a patient on every shard with its token, the "
        "care-team clinician, the billing admin) as JSON for load/locustfile.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="JSON file to write (e.g. var/load/personas.json)")

    def handle(self, *args, out, **options):
        probe_personas_ensure()
        identities = probe_identities()
        if not identities:
            raise CommandError("No shard has buckets in the shard map: run `python manage.py seed_lab` first.")
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([asdict(identity) for identity in identities], indent=2))
        path.chmod(0o600)  # tokens
        self.stdout.write(f"{len(identities)} shard(s) of synthetic personas written to {path}")
