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
            "--from-traces",
            action="store_true",
            help="also replay each scenario against the running lab (the synthetic probes), derive its "
            "participants and message order from the recorded traces, write them as Mermaid under "
            "docs/requirements/derived/ and fail on drift in participants or order",
        )
        parser.add_argument("--base-url", default=None, help="the lab to replay (default PIMLAB_PROBE_BASE_URL)")
        parser.add_argument(
            "--derived-dir", default=None, help="where the derived Mermaid files go (default docs/requirements/derived)"
        )
        parser.add_argument(
            "--seed",
            default=settings.PIMLAB_SEQUENCE_SEED,
            help="the seed the catalog copy must equal; the check is skipped when the file is absent",
        )

    def handle(self, *args, catalog, seed, from_traces=False, base_url=None, derived_dir=None, **options):
        root = Path(settings.BASE_DIR)
        catalog_path = (root / catalog).resolve()
        if not catalog_path.is_file():
            raise CommandError(f"No catalog at {catalog_path}.")
        report = sequences_validate(catalog_path=catalog_path, root=root, seed_path=(root / seed).resolve())
        self.stdout.write("\n".join(report_lines(report)))
        if from_traces:
            self._from_traces(catalog_path, root, base_url, report, derived_dir)
        if report.drift:
            raise CommandError(f"{len(report.drift)} drift finding(s) between the sequence catalog and the repository")

    def _from_traces(self, catalog_path: Path, root: Path, base_url, report, derived_dir) -> None:
        from apps.probes.live_sequences import DERIVED_DIR, LiveSequenceError, live_sequences_derive
        from apps.probes.sequence_catalog import catalog_parse

        try:
            out_dir = Path(derived_dir) if derived_dir else root / DERIVED_DIR
            results = live_sequences_derive(
                catalog=catalog_parse(catalog_path.read_text()), out_dir=out_dir, base_url=base_url
            )
        except LiveSequenceError as exc:
            raise CommandError(str(exc)) from exc
        lines = ["", f"[trace] {sum(r.drift.ok for r in results)}/{len(results)} scenarios match their recorded traces"]
        for result in results:
            derived, drift = result.derived, result.drift
            status = "ok   " if drift.ok else "DRIFT"
            lines.append(
                f"  {status} {derived.scenario}: {' → '.join(derived.participants)} "
                f"(trace {', '.join(derived.trace_ids)}; {result.mermaid_path})"
            )
            lines += [f"        missing participant: {label}" for label in drift.missing]
            lines += [f"        order: {problem}" for problem in drift.order]
            if not drift.ok:
                report.add("trace", derived.scenario, "recorded trace", False, "; ".join(drift.missing + drift.order))
        self.stdout.write("\n".join(lines))
