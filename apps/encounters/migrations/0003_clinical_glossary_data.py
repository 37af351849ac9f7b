"""Load the clinical glossary data file once; later edits go through the admin or `glossary_load`."""

from pathlib import Path

import yaml
from django.db import migrations

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "clinical_glossary.yaml"


def load_glossary(apps, schema_editor):
    GlossaryTerm = apps.get_model("encounters", "GlossaryTerm")
    alias = schema_editor.connection.alias
    document = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8")) or {}
    for item in document.get("terms", []):
        GlossaryTerm.objects.using(alias).update_or_create(
            term=item["term"],
            defaults={
                "canonical": item["canonical"],
                "action": item.get("action", "normalise"),
                "category": item.get("category", "abbreviation"),
                "case_sensitive": bool(item.get("case_sensitive", True)),
                "guidance": item.get("guidance", ""),
                "from_data_file": True,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("encounters", "0002_clinical_glossary")]

    operations = [
        migrations.RunPython(load_glossary, migrations.RunPython.noop, hints={"model_name": "glossaryterm"}),
    ]
