from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.models import Persona, PersonaRole
from apps.core.personas import DEMO_PASSWORDS


class Command(BaseCommand):
    help = "Print the lab's URLs and the persona logins (demo passwords)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default=f"http://127.0.0.1:{settings.PIMLAB_WEB_PORT}",
            help="Where the web process listens.",
        )

    def handle(self, *args, base_url: str, **options):
        base = base_url.rstrip("/")
        self.stdout.write(self.style.SUCCESS("PIM SRE Lab portal"))
        for label, path in (
            ("portal", "/"),
            ("admin", "/admin/"),
            ("metrics", "/metrics"),
            ("liveness", "/healthz"),
            ("readiness", "/readyz"),
            ("OpenAPI schema", "/api/schema/"),
            ("API docs", "/api/docs/"),
        ):
            self.stdout.write(f"  {label:<15} {base}{path}")
        shards = ", ".join(settings.SHARD_ALIASES)
        self.stdout.write(
            f"  databases       catalog, {shards}, audit   broker {settings.CELERY_BROKER_URL.split('://')[0]}"
        )
        self.stdout.write("")
        self.stdout.write("Persona logins (username / password; API tokens: python manage.py persona_tokens)")
        for role in PersonaRole:
            usernames = list(
                Persona.objects.using("default")
                .filter(role=role)
                .order_by("user__username")
                .values_list("user__username", flat=True)[:3]
            )
            if not usernames:
                self.stdout.write(f"  {role.label:<15} (none yet: run python manage.py seed_lab)")
                continue
            more = Persona.objects.using("default").filter(role=role).count() - len(usernames)
            names = ", ".join(usernames) + (f" (+{more} more)" if more > 0 else "")
            self.stdout.write(f"  {role.label:<15} {names} / {DEMO_PASSWORDS[role]}")
        self.stdout.write("  Django admin: operator or sre (staff superusers).")
