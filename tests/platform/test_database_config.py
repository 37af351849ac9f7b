"""Database topology from configuration (pure configuration logic, no connections)."""

from pathlib import Path

from pimlab_portal.settings.databases import build_databases, database_config, shard_aliases


def test_an_mssql_url_selects_mssql_django():
    config = database_config("mssql://lab:secret@sql.example.test:1433/pimlab_shard0")
    assert config["ENGINE"] == "mssql"
    assert config["NAME"] == "pimlab_shard0"
    assert config["HOST"] == "sql.example.test" and int(config["PORT"]) == 1433
    assert config["USER"] == "lab" and config["PASSWORD"] == "secret"
    assert config["OPTIONS"]["driver"] == "ODBC Driver 18 for SQL Server"
    assert config["CONN_MAX_AGE"] > 0 and config["CONN_HEALTH_CHECKS"] is True


def test_a_postgres_url_is_persistent_and_health_checked():
    config = database_config("postgres://postgres@127.0.0.1:5432/pimlab_catalog")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["CONN_MAX_AGE"] > 0 and config["CONN_HEALTH_CHECKS"] is True


def test_mixed_backends_and_the_shard_count_come_from_the_environment(tmp_path: Path):
    environ = {
        "PIMLAB_CATALOG_URL": "postgres://postgres@127.0.0.1:5432/catalog",
        "PIMLAB_SHARD_URLS": "mssql://sa:pw@127.0.0.1:1433/s0, postgres://postgres@127.0.0.1/s1,postgres://p@h/s2",
        "PIMLAB_AUDIT_URL": "postgres://postgres@127.0.0.1:5432/audit",
    }
    databases = build_databases(tmp_path, environ)
    assert list(databases) == ["default", "shard_0", "shard_1", "shard_2", "audit"]
    assert shard_aliases(databases) == ["shard_0", "shard_1", "shard_2"]
    assert databases["shard_0"]["ENGINE"] == "mssql"
    assert databases["shard_1"]["ENGINE"] == "django.db.backends.postgresql"


def test_nothing_configured_means_sqlite_files_under_the_var_dir(tmp_path: Path):
    databases = build_databases(tmp_path, {})
    assert shard_aliases(databases) == ["shard_0", "shard_1"]
    for alias, filename in (
        ("default", "catalog.sqlite3"),
        ("shard_0", "shard0.sqlite3"),
        ("shard_1", "shard1.sqlite3"),
        ("audit", "audit.sqlite3"),
    ):
        assert databases[alias]["ENGINE"] == "django.db.backends.sqlite3"
        assert databases[alias]["NAME"] == str(tmp_path / filename)
        assert "journal_mode=WAL" in databases[alias]["OPTIONS"]["init_command"]


def test_shard_aliases_sort_numerically():
    assert shard_aliases({f"shard_{i}": {} for i in (10, 2, 1)} | {"default": {}}) == ["shard_1", "shard_2", "shard_10"]
