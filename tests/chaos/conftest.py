"""Fixtures for chaos tests: SRE personas, manifests, and the HA lab (built once per module, always torn down)."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest
import yaml
from django.test import override_settings

from apps.chaos import ha_lab
from apps.core.models import PersonaRole
from tests.factories import persona_user

EXPERIMENTS = Path(__file__).resolve().parent.parent.parent / "chaos" / "experiments"


def ports_free(first: int, count: int) -> bool:
    for port in range(first, first + count):
        with socket.socket() as sock:
            # Servers bind with SO_REUSEADDR, so a port held only by TIME_WAIT sockets is free for them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_base_port(low: int = 15400, high: int = 15500, span: int = 40) -> int:
    for base in range(low, high - span + 1, max(1, span // 2)):
        if ports_free(base, span):
            return base
    raise RuntimeError(f"No {span} free loopback ports in {low}–{high}.")


@pytest.fixture(scope="module")
def ha_pair(request):
    """A Patroni + etcd pair with the shard tables; torn down by PID even when the test fails.

    With its node agents unless the test module sets ``HA_NODE_AGENT = False`` (a failover that
    waits for Patroni's lease).

    The lab lives under /tmp (pytest's own temporary folders are closed to the postgres user);
    its logs are kept in ``<lab>-logs`` for the post-mortem of a failed run.
    """
    from apps.chaos.management.commands.lab_ha import migrate_ha_shard

    lab_root = Path(tempfile.mkdtemp(prefix="pimlab-chaos-ha-", dir="/tmp"))
    lab_root.chmod(0o755)
    overrides = override_settings(
        PIMLAB_HA_DIR=str(lab_root / "lab"),
        PIMLAB_HA_BASE_PORT=free_base_port(),
        PIMLAB_HA_NODE_AGENT=getattr(request.module, "HA_NODE_AGENT", True),
    )
    overrides.enable()
    try:
        state = ha_lab.lab_up()
        migrate_ha_shard(state)
        yield state
    finally:
        try:
            ha_lab.lab_down(keep_logs_in=lab_root / "logs")
        finally:
            overrides.disable()


@pytest.fixture
def sre_author():
    return persona_user(PersonaRole.SRE, username="sre-author")


@pytest.fixture
def sre_approver():
    return persona_user(PersonaRole.SRE, username="sre-approver")


def manifest_text(name: str, **changes) -> str:
    data = yaml.safe_load((EXPERIMENTS / name).read_text())
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def small_manifest(**changes) -> dict:
    """A fast experiment against shard_1 with constant probes, for controller tests."""
    data = {
        "title": "Controller test experiment",
        "owner": "sre-author",
        "adr": "docs/ADR/ADR-012-chaos-governance.md",
        "blast_radius": {
            "targets": [{"kind": "shard", "name": "shard_1"}],
            "max_patient_share": 0.5,
            "max_traffic_share": 0.5,
        },
        "duration_seconds": 120,
        "steady_state_hypothesis": {
            "title": "always",
            "probes": [{"name": "constant", "probe": "constant", "arguments": {"value": True}, "tolerance": True}],
        },
        "method": [{"name": "short pause", "type": "action", "action": "pause", "arguments": {"seconds": 0.1}}],
        "rollbacks": [{"name": "rollback pause", "type": "action", "action": "pause", "arguments": {"seconds": 0}}],
    }
    data.update(changes)
    return data


def approved_run(*, key: str = "api/run-test", **changes):
    """A launched (running, not yet executed) run of ``small_manifest(**changes)``, approved by a second SRE."""
    from apps.chaos import services

    revision = services.experiment_submit(
        key=key, manifest_text=yaml.safe_dump(small_manifest(**changes)), author="sre-author"
    )
    report = services.revision_dry_run(revision=revision)
    assert report["ok"], report
    services.revision_approve(revision=revision, approver="sre-approver")
    return services.run_launch(revision=revision, launched_by="sre-approver", enqueue=False)
