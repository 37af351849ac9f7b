from django.core.management.base import BaseCommand, CommandError

from apps.projections.selectors import read_models_differences, read_models_snapshot
from apps.projections.services import read_models_replay_snapshot


class Command(BaseCommand):
    help = (
        "Replay the shards' outbox history into the read models inside a transaction that is rolled back, and report "
        "whether the live (incremental) read models equal the replay. Changes nothing."
    )

    def handle(self, *args, **options):
        live = read_models_snapshot()
        differences = read_models_differences(live=live, replayed=read_models_replay_snapshot())
        if differences:
            for name, (live_count, replay_count) in differences.items():
                self.stderr.write(f"{name}: live {live_count} rows/events, replay {replay_count}")
            raise CommandError(
                "Read models differ from a replay of the outbox history. If the worker is caught up "
                "(projection_backlog_events = 0), run `python manage.py projections_rebuild`."
            )
        self.stdout.write(self.style.SUCCESS("Read models equal a full replay of the outbox history."))
