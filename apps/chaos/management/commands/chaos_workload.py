"""`python manage.py chaos_workload`: the drills' background persona workload (one process)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from apps.chaos.workload import run_workload


class Command(BaseCommand):
    help = "Write continuously to one shard (ORM) or book encounters through the API (HTTP), logging each attempt."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=["orm", "http"], default="orm")
        parser.add_argument("--out", required=True, help="JSON-lines file of attempts.")
        parser.add_argument("--stop-file", required=True, help="The workload stops when this file appears.")
        parser.add_argument("--writers", type=int, default=2)
        parser.add_argument("--duration", type=float, default=600.0, help="Upper bound, seconds.")
        parser.add_argument(
            "--alias",
            default="shard_1",
            help="The shard alias written to (orm) or where the http personas' patients are created.",
        )
        parser.add_argument("--base-url", default="", help="http: the server, e.g. http://127.0.0.1:15480")
        parser.add_argument(
            "--token",
            default="",
            help="http: book with this persona token (default: create one patient persona per writer).",
        )
        parser.add_argument("--patient-ids", default="", help="http: comma-separated patient ids to book for.")

    def handle(self, *args, **o):
        run_workload(
            kind=o["kind"],
            out=Path(o["out"]),
            stop_file=Path(o["stop_file"]),
            writers=o["writers"],
            duration=o["duration"],
            alias=o["alias"],
            base_url=o["base_url"].rstrip("/"),
            token=o["token"],
            patient_ids=[p for p in o["patient_ids"].split(",") if p],
        )
