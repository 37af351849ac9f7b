"""`chaos_export` writes a Chaos Toolkit experiment that `chaos run` executes with this project's activities."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from apps.chaos import services
from tests.support.databases import child_env

from .conftest import small_manifest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CHAOS_CLI = Path(sys.executable).parent / "chaos"


def latency_trigger_count() -> int:
    with connections["shard_1"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'pimlab_chaos_latency'")
        return cursor.fetchone()[0]


def test_exported_experiment_runs_with_the_chaos_cli(tmp_path):
    manifest = small_manifest(
        steady_state_hypothesis={
            "title": "no injected latency",
            "probes": [
                {
                    "name": "no latency trigger",
                    "probe": "shard_latency_injected",
                    "arguments": {"shard": "shard_1", "table": "patients_patient"},
                    "tolerance": False,
                },
                {"name": "in range", "probe": "constant", "arguments": {"value": 3}, "tolerance": {"min": 1, "max": 5}},
            ],
        },
        method=[
            {
                "name": "inject latency",
                "type": "action",
                "action": "shard_latency_inject",
                "arguments": {"shard": "shard_1", "table": "patients_patient", "delay_ms": 5},
                "injection": True,
            },
            {
                "name": "latency is there",
                "type": "probe",
                "probe": "shard_latency_injected",
                "arguments": {"shard": "shard_1", "table": "patients_patient"},
            },
            {
                "name": "end the fault",
                "type": "action",
                "action": "shard_latency_remove",
                "arguments": {"shard": "shard_1", "table": "patients_patient"},
            },
        ],
        rollbacks=[
            {
                "name": "remove latency",
                "type": "action",
                "action": "shard_latency_remove",
                "arguments": {"shard": "shard_1", "table": "patients_patient"},
            },
        ],
    )
    revision = services.experiment_submit(key="api/ctk", manifest_text=yaml.safe_dump(manifest), author="sre-author")
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    run = services.run_launch(revision=revision, launched_by="sre-approver", enqueue=False)

    exported_path = tmp_path / "experiment.json"
    call_command("chaos_export", str(run.pk), out=str(exported_path))
    exported = json.loads(exported_path.read_text())
    assert exported["method"][0]["provider"] == {
        "type": "python",
        "module": "apps.chaos.ctk",
        "func": "run_action",
        "arguments": {
            "name": "shard_latency_inject",
            "arguments": {"shard": "shard_1", "table": "patients_patient", "delay_ms": 5},
            "configuration": {},
        },
    }

    env = child_env(PYTHONPATH=str(settings.BASE_DIR))
    journal_path = tmp_path / "journal.json"
    completed = subprocess.run(
        [
            str(CHAOS_CLI),
            "--no-log-file",
            "run",
            "--journal-path",
            str(journal_path),
            "--rollback-strategy",
            "always",
            str(exported_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed" and journal["deviated"] is False
    by_name = {entry["activity"]["name"]: entry for entry in journal["run"]}
    assert by_name["inject latency"]["status"] == "succeeded"
    assert by_name["inject latency"]["output"]["delay_ms"] == 5
    assert by_name["latency is there"]["output"] is True  # the project's code really ran against shard_1
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["remove latency"]
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["probes"][1]["tolerance_met"] is True  # {min, max} via the project
    assert latency_trigger_count() == 0


def chaos_run(exported_path: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    env = child_env(PYTHONPATH=str(settings.BASE_DIR))
    journal_path = tmp_path / f"journal-{exported_path.stem}.json"
    completed = subprocess.run(
        [str(CHAOS_CLI), "--no-log-file", "run", "--journal-path", str(journal_path), str(exported_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    return completed, json.loads(journal_path.read_text())


def test_an_export_refuses_to_run_its_method_once_the_kill_switch_is_engaged_or_the_revision_is_retired(tmp_path):
    inject = {
        "name": "inject latency",
        "type": "action",
        "action": "shard_latency_inject",
        "arguments": {"shard": "shard_1", "table": "patients_patient", "delay_ms": 5},
    }
    remove = {
        **inject,
        "name": "remove",
        "action": "shard_latency_remove",
        "arguments": {"shard": "shard_1", "table": "patients_patient"},
    }
    manifest = small_manifest(method=[inject, remove], rollbacks=[])
    revision = services.experiment_submit(
        key="api/ctk-gov", manifest_text=yaml.safe_dump(manifest), author="sre-author"
    )
    services.revision_dry_run(revision=revision)
    services.revision_approve(revision=revision, approver="sre-approver")
    exported_path = tmp_path / "governed.json"
    call_command("chaos_export", str(revision.pk), revision=True, out=str(exported_path))
    exported = json.loads(exported_path.read_text())
    assert exported["controls"] == [
        {
            "name": "pimlab-governance",
            "provider": {"type": "python", "module": "apps.chaos.ctk", "arguments": {"revision_id": revision.pk}},
        }
    ]

    services.kill_switch_set(engaged=True, changed_by="sre-lead", reason="incident")
    completed, journal = chaos_run(exported_path, tmp_path)
    assert journal["status"] == "interrupted", completed.stdout + completed.stderr
    assert journal["run"] == [] and latency_trigger_count() == 0  # the method never ran
    assert "kill switch is engaged" in completed.stdout + completed.stderr

    services.kill_switch_set(engaged=False, changed_by="sre-lead")
    from apps.chaos.models import RevisionStatus

    type(revision).objects.filter(pk=revision.pk).update(status=RevisionStatus.RETIRED)
    completed, journal = chaos_run(exported_path, tmp_path)
    assert journal["status"] == "interrupted" and journal["run"] == []
    assert "is retired, not approved" in completed.stdout + completed.stderr
