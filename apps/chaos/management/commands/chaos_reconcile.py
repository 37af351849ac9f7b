"""`python manage.py chaos_reconcile [--root DIR]`: sync the GitOps folder of experiment manifests."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from apps.chaos.services import experiments_reconcile


class Command(BaseCommand):
    help = "Sync chaos/experiments/*.yaml by content hash: new or changed manifests become dry-run revisions."

    def add_arguments(self, parser):
        parser.add_argument("--root", help="A checkout's experiments folder (default: PIMLAB_CHAOS_EXPERIMENTS_DIR).")

    def handle(self, *args, root=None, **options):
        result = experiments_reconcile(root=Path(root) if root else None)
        self.stdout.write(json.dumps(result, indent=2))
