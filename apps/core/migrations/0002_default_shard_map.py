from django.conf import settings
from django.db import migrations

BUCKET_COUNT = 1024


def create_default_map(apps, schema_editor):
    """Spread the logical buckets evenly over the configured shards, if no map exists yet."""
    if schema_editor.connection.alias != "default":
        return
    entry_model = apps.get_model("core", "ShardMapEntry")
    if entry_model.objects.exists():
        return
    shards = list(settings.SHARD_ALIASES)
    per_shard = BUCKET_COUNT // len(shards)
    for index, alias in enumerate(shards):
        start = index * per_shard
        end = BUCKET_COUNT - 1 if index == len(shards) - 1 else start + per_shard - 1
        entry_model.objects.create(bucket_start=start, bucket_end=end, shard_alias=alias, note="initial even split")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(create_default_map, migrations.RunPython.noop)]
