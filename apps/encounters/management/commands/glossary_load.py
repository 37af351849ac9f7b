"""Load (upsert) the clinical glossary data file into GlossaryTerm."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from apps.encounters.notes.glossary import GLOSSARY_DATA_FILE, glossary_terms_load


class Command(BaseCommand):
    help = "Load the clinical glossary (apps/encounters/data/clinical_glossary.yaml) into the catalog."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=GLOSSARY_DATA_FILE)

    def handle(self, *args, file: Path, **options):
        result = glossary_terms_load(path=file)
        self.stdout.write(self.style.SUCCESS(f"Glossary loaded: {result.created} created, {result.updated} updated."))
