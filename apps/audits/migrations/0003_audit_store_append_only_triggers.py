"""Database-level append-only guarantee for the audit store: UPDATE and DELETE are refused by triggers.

The ORM already refuses them; the triggers also stop ad-hoc SQL by application credentials.
Someone with owner rights can still disable them, which is what the hash chain is for."""

from django.db import migrations

POSTGRES_CREATE = """
CREATE OR REPLACE FUNCTION audits_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit store is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audits_auditrecord_append_only ON audits_auditrecord;
CREATE TRIGGER audits_auditrecord_append_only BEFORE UPDATE OR DELETE ON audits_auditrecord
    FOR EACH ROW EXECUTE FUNCTION audits_refuse_change();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS audits_auditrecord_append_only ON audits_auditrecord;
DROP FUNCTION IF EXISTS audits_refuse_change();
"""
SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS audits_auditrecord_no_update BEFORE UPDATE ON audits_auditrecord
       BEGIN SELECT RAISE(ABORT, 'audit store is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER IF NOT EXISTS audits_auditrecord_no_delete BEFORE DELETE ON audits_auditrecord
       BEGIN SELECT RAISE(ABORT, 'audit store is append-only: DELETE refused'); END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audits_auditrecord_no_update;",
    "DROP TRIGGER IF EXISTS audits_auditrecord_no_delete;",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audits", "0002_audit_store")]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers, hints={"model_name": "auditrecord"}),
    ]
