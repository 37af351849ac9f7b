"""``aggregate_type`` has one spelling, ``patient`` (``apps.outbox.events.AggregateType``).

Runs on the shards only (the router places ``outboxevent`` there). Outbox rows are not chained,
so published rows are renamed too; the bus already carries what it carried."""

from django.db import migrations


def _rename(apps, schema_editor, old, new):
    events = apps.get_model("outbox", "OutboxEvent").objects.using(schema_editor.connection.alias)
    events.filter(aggregate_type=old).update(aggregate_type=new)


def forwards(apps, schema_editor):
    _rename(apps, schema_editor, "Patient", "patient")


def backwards(apps, schema_editor):
    pass  # "patient" was already the spelling of claim events: there is nothing to tell apart


class Migration(migrations.Migration):
    dependencies = [("outbox", "0005_drop_test_only_processed_event")]

    operations = [migrations.RunPython(forwards, backwards, hints={"model_name": "outboxevent"})]
