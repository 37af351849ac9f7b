"""The audit trail survives a compromised application (PostgreSQL):

- the store refuses TRUNCATE as well as UPDATE and DELETE of links;
- the chain head cannot be deleted, truncated, moved back or renamed;
- on each shard, an unshipped AUDIT_EVENT cannot be deleted and no event's content can change
  (only the shipper's ``shipped_at``/``chain_sequence`` may be set);
- an insert-only role (``PIMLAB_AUDIT_WRITER_ROLE``) may read and append links and advance heads,
  and nothing else: the application logs in as it, migrations run as the owner.

TRUNCATE stays possible only for a session of the database owner that sets
``pimlab.allow_truncate = on`` (the test profile does, to empty its databases between tests); an
owner can disable triggers anyway, which is what the keyed chain and ``audit_verify`` catch.

SQLite (the embedded lab) gets the row triggers it supports. Any other backend is refused rather
than migrated without these guarantees (set PIMLAB_AUDIT_ALLOW_UNENFORCED=1 to accept that).
"""

from django.conf import settings
from django.db import migrations

TRUNCATE_GUARD = """
CREATE OR REPLACE FUNCTION audits_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('pimlab.allow_truncate', true) = 'on'
       AND pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE')
    THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit trail is append-only: TRUNCATE of % refused', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""
STORE_CREATE = (
    TRUNCATE_GUARD
    + """
DROP TRIGGER IF EXISTS audits_auditrecord_no_truncate ON audits_auditrecord;
CREATE TRIGGER audits_auditrecord_no_truncate BEFORE TRUNCATE ON audits_auditrecord
    FOR EACH STATEMENT EXECUTE FUNCTION audits_refuse_truncate();
CREATE OR REPLACE FUNCTION audits_head_advance_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit chain heads cannot be deleted';
    END IF;
    IF NEW.shard_alias <> OLD.shard_alias OR NEW.last_sequence < OLD.last_sequence
       OR (NEW.last_sequence = OLD.last_sequence AND NEW.last_hash <> OLD.last_hash) THEN
        RAISE EXCEPTION 'audit chain head of % may only advance (% -> %)', OLD.shard_alias,
            OLD.last_sequence, NEW.last_sequence;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audits_auditchainhead_advance_only ON audits_auditchainhead;
CREATE TRIGGER audits_auditchainhead_advance_only BEFORE UPDATE OR DELETE ON audits_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION audits_head_advance_only();
DROP TRIGGER IF EXISTS audits_auditchainhead_no_truncate ON audits_auditchainhead;
CREATE TRIGGER audits_auditchainhead_no_truncate BEFORE TRUNCATE ON audits_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION audits_refuse_truncate();
"""
)
STORE_DROP = """
DROP TRIGGER IF EXISTS audits_auditrecord_no_truncate ON audits_auditrecord;
DROP TRIGGER IF EXISTS audits_auditchainhead_advance_only ON audits_auditchainhead;
DROP TRIGGER IF EXISTS audits_auditchainhead_no_truncate ON audits_auditchainhead;
DROP FUNCTION IF EXISTS audits_head_advance_only();
"""
SHARD_CREATE = (
    TRUNCATE_GUARD
    + """
CREATE OR REPLACE FUNCTION audits_event_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.shipped_at IS NULL THEN
            RAISE EXCEPTION 'audit event % is not shipped yet: it cannot be deleted', OLD.id;
        END IF;
        RETURN OLD;
    END IF;
    IF (NEW.id, NEW.patient_id, NEW.occurred_at, NEW.action, NEW.outcome, NEW.resource_type, NEW.resource_id,
        NEW.actor_user_id, NEW.actor_role, NEW.request_id, NEW.trace_id, NEW.detail::text)
       IS DISTINCT FROM
       (OLD.id, OLD.patient_id, OLD.occurred_at, OLD.action, OLD.outcome, OLD.resource_type, OLD.resource_id,
        OLD.actor_user_id, OLD.actor_role, OLD.request_id, OLD.trace_id, OLD.detail::text) THEN
        RAISE EXCEPTION 'audit event % is append-only: only its shipping fields may be set', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audits_auditevent_guard ON audits_auditevent;
CREATE TRIGGER audits_auditevent_guard BEFORE UPDATE OR DELETE ON audits_auditevent
    FOR EACH ROW EXECUTE FUNCTION audits_event_guard();
DROP TRIGGER IF EXISTS audits_auditevent_no_truncate ON audits_auditevent;
CREATE TRIGGER audits_auditevent_no_truncate BEFORE TRUNCATE ON audits_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audits_refuse_truncate();
"""
)
SHARD_DROP = """
DROP TRIGGER IF EXISTS audits_auditevent_guard ON audits_auditevent;
DROP TRIGGER IF EXISTS audits_auditevent_no_truncate ON audits_auditevent;
DROP FUNCTION IF EXISTS audits_event_guard();
"""
WRITER_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};
GRANT CONNECT ON DATABASE "{database}" TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT, INSERT ON audits_auditrecord TO {role};
GRANT SELECT, INSERT, UPDATE ON audits_auditchainhead TO {role};
GRANT SELECT ON django_migrations TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
"""
SQLITE_STORE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS audits_auditchainhead_no_delete BEFORE DELETE ON audits_auditchainhead
       BEGIN SELECT RAISE(ABORT, 'audit chain heads cannot be deleted'); END;""",
    """CREATE TRIGGER IF NOT EXISTS audits_auditchainhead_advance_only BEFORE UPDATE ON audits_auditchainhead
       WHEN NEW.last_sequence < OLD.last_sequence OR NEW.shard_alias <> OLD.shard_alias
       BEGIN SELECT RAISE(ABORT, 'audit chain heads may only advance'); END;""",
]
SQLITE_STORE_DROP = [
    "DROP TRIGGER IF EXISTS audits_auditchainhead_no_delete;",
    "DROP TRIGGER IF EXISTS audits_auditchainhead_advance_only;",
]


def _refuse_unenforced(vendor: str) -> None:
    if vendor not in ("postgresql", "sqlite") and not settings.PIMLAB_AUDIT_ALLOW_UNENFORCED:
        raise RuntimeError(
            f"The audit trail's append-only guarantees are implemented for PostgreSQL and SQLite, not {vendor}. "
            "Set PIMLAB_AUDIT_ALLOW_UNENFORCED=1 to migrate without them (see the README, 'Audit store')."
        )


def store_harden(apps, schema_editor):
    connection = schema_editor.connection
    _refuse_unenforced(connection.vendor)
    if connection.vendor == "postgresql":
        schema_editor.execute(STORE_CREATE, params=None)
        role = settings.PIMLAB_AUDIT_WRITER_ROLE
        schema_editor.execute(WRITER_ROLE.format(role=role, database=connection.settings_dict["NAME"]), params=None)
    elif connection.vendor == "sqlite":
        for statement in SQLITE_STORE_CREATE:
            schema_editor.execute(statement)


def store_soften(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(STORE_DROP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_STORE_DROP:
            schema_editor.execute(statement)


def shard_harden(apps, schema_editor):
    _refuse_unenforced(schema_editor.connection.vendor)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SHARD_CREATE, params=None)


def shard_soften(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SHARD_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audits", "0004_chain_key_id")]

    operations = [
        migrations.RunPython(store_harden, store_soften, hints={"model_name": "auditrecord"}),
        migrations.RunPython(shard_harden, shard_soften, hints={"model_name": "auditevent"}),
    ]
