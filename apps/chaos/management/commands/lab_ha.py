"""`python manage.py lab_ha up|status|down|switchover`: the Patroni + etcd pair for one shard."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.chaos import ha_lab


def migrate_ha_shard(state: ha_lab.LabState) -> None:
    """Create the shard tables on the HA pair (as shard_0 of a one-shard process)."""
    env = dict(os.environ, PIMLAB_SHARD_URLS=state.dsn())
    completed = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "migrate", "--database", "shard_0", "-v", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if completed.returncode != 0:
        raise ha_lab.HaLabError(f"Migrating the HA shard failed:\n{completed.stderr[-3000:]}")


class Command(BaseCommand):
    help = "Build, inspect or remove the HA lab: a Patroni-managed PostgreSQL pair (synchronous) with etcd."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "status", "down", "switchover"])
        parser.add_argument("--no-migrate", action="store_true", help="Do not create the shard tables on up.")

    def handle(self, *args, action: str, no_migrate: bool = False, **options):
        try:
            if action == "up":
                state = ha_lab.lab_up()
                if not no_migrate:
                    migrate_ha_shard(state)
                self.stdout.write(json.dumps(ha_lab.cluster_status(state), indent=2))
                self.stdout.write(f"\nShard URL for PIMLAB_SHARD_URLS: {state.dsn()}")
            elif action == "status":
                state = ha_lab.load_state()
                if state is None:
                    self.stdout.write("The HA lab is not up.")
                    return
                self.stdout.write(json.dumps(ha_lab.cluster_status(state), indent=2))
            elif action == "down":
                killed = ha_lab.lab_down()
                self.stdout.write(f"Stopped PIDs: {killed or 'none'}")
            else:
                state = ha_lab.load_state()
                if state is None:
                    raise CommandError("The HA lab is not up.")
                self.stdout.write(json.dumps(ha_lab.switchover(state), indent=2))
        except ha_lab.HaLabError as exc:
            raise CommandError(str(exc)) from exc
