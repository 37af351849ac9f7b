from django.core.management.base import BaseCommand

from apps.probes.personas import probe_personas_ensure


class Command(BaseCommand):
    help = "Create (idempotently) the synthetic probe personas and one synthetic patient on every shard."

    def handle(self, *args, **options):
        targets = probe_personas_ensure()
        for target in targets:
            self.stdout.write(f"{target.shard_alias}: synthetic patient {target.patient_id}")
        if not targets:
            self.stderr.write("No shard has buckets in the shard map: no synthetic patient was created.")
