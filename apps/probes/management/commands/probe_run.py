from django.core.management.base import BaseCommand, CommandError

from apps.probes.models import ProbeOutcome, ProbeScenario
from apps.probes.personas import probe_identities
from apps.probes.runner import probe_run


class Command(BaseCommand):
    help = "Run the synthetic probes now through the HTTP API (PIMLAB_PROBE_BASE_URL); exit 1 if one fails."

    def add_arguments(self, parser):
        parser.add_argument("--scenario", choices=ProbeScenario.values, help="one scenario (default: all)")
        parser.add_argument("--shard", help="one shard alias (default: every shard with a synthetic patient)")
        parser.add_argument("--base-url", help="default: PIMLAB_PROBE_BASE_URL")

    def handle(self, *args, scenario=None, shard=None, base_url=None, **options):
        identities = [i for i in probe_identities() if shard in (None, i.shard_alias)]
        if not identities:
            raise CommandError("No synthetic probe personas for that shard: run `manage.py probe_setup` first.")
        failed = 0
        for identity in identities:
            for name in [scenario] if scenario else ProbeScenario.values:
                result = probe_run(scenario=name, identity=identity, base_url=base_url)
                steps = " ".join(f"{step}={seconds:.3f}s" for step, seconds in result.step_latencies.items())
                line = f"{result.scenario:24} {result.shard_alias:8} {result.outcome:8} {result.duration_seconds:.3f}s"
                line += f" trace={result.trace_id or '-'} {steps}"
                if result.outcome == ProbeOutcome.FAILURE:
                    failed += 1
                    line += f" FAILED at {result.failed_step}: {result.error}"
                elif result.outcome == ProbeOutcome.SKIPPED:
                    line += f" ({result.skip_reason})"
                self.stdout.write(line)
        if failed:
            raise CommandError(f"{failed} probe(s) failed")
