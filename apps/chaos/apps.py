from django.apps import AppConfig


class ChaosConfig(AppConfig):
    name = "apps.chaos"
    label = "chaos"
    verbose_name = "Chaos drills"
