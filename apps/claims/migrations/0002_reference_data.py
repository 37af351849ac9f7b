from django.db import migrations


def load(apps, schema_editor):
    from apps.claims.reference_data import reference_data_load

    reference_data_load(
        retention_policy_model=apps.get_model("claims", "RetentionPolicy"),
        payer_model=apps.get_model("claims", "Payer"),
        amount_ceiling_model=apps.get_model("claims", "AmountCeiling"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [("claims", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
