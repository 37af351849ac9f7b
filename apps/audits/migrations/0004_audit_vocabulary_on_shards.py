"""One audit vocabulary (``<resource>.<past tense>``, lower-case resource types) for the events
still waiting on each shard.

Runs on the shards only (the router places ``auditevent`` there). Events already shipped keep the
text they were hash-chained with in the audit store, and so do their shard copies: the audit store
is append-only, and a shard copy that differs from its chained link would read as tampering.
``apps.audits.vocabulary.audit_action_canonical`` reads those old names as the new ones."""

from django.db import migrations

# Frozen here on purpose: a migration must not change when the vocabulary module does.
ACTIONS = {
    "encounter.finish": "encounter.finished",
    "encounter.note.history": "encounter.note.history_read",
    "encounter.note.update": "encounter.note.updated",
    "encounter.note.sign": "encounter.note.signed",
    "encounter.note.amend": "encounter.note.amended",
    "claim.submit": "claim.submitted",
    "claim.payment_record": "claim.paid",
    "claim.archive": "claim.archived",
    "claim.purge": "claim.purged",
}
RESOURCE_TYPES = {"Encounter": "encounter"}


def _rename(apps, schema_editor, actions, resource_types):
    events = apps.get_model("audits", "AuditEvent").objects.using(schema_editor.connection.alias)
    waiting = events.filter(shipped_at__isnull=True)
    for old, new in actions.items():
        waiting.filter(action=old).update(action=new)
    for old, new in resource_types.items():
        waiting.filter(resource_type=old).update(resource_type=new)


def forwards(apps, schema_editor):
    _rename(apps, schema_editor, ACTIONS, RESOURCE_TYPES)


def backwards(apps, schema_editor):
    _rename(
        apps,
        schema_editor,
        {new: old for old, new in ACTIONS.items()},
        {new: old for old, new in RESOURCE_TYPES.items()},
    )


class Migration(migrations.Migration):
    dependencies = [("audits", "0003_audit_store_append_only_triggers")]

    operations = [migrations.RunPython(forwards, backwards, hints={"model_name": "auditevent"})]
