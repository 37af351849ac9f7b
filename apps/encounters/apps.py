from django.apps import AppConfig


class EncountersConfig(AppConfig):
    name = "apps.encounters"
    label = "encounters"
    verbose_name = "Encounters"
