from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "apps.projections"
    label = "projections"
    verbose_name = "Projections"
