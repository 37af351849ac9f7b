import time
import urllib.error
import urllib.request

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
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="First wait up to this long until the web process answers /healthz (make run).",
        )

    def handle(self, *args, base_url: str, wait: float = 0, **options):
        base = base_url.rstrip("/")
        if wait and not self._server_answers(f"{base}/healthz", within=wait):
            self.stderr.write(f"The web process did not answer {base}/healthz within {wait:g} s; see var/log/web.log.")
            return
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"PIM SRE Lab portal is up: {base}/"))
        for label, path in (
            ("portal", "/"),
            ("admin", "/admin/"),
            ("metrics", "/metrics"),
            ("liveness", "/healthz"),
            ("readiness", "/readyz"),
            ("OpenAPI schema", "/api/schema/"),
            ("API docs", "/api/docs/"),
            ("API reference", "/api/redoc/"),
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
        self.stdout.write("  Django admin: operator, sre or sre2 (staff with the permissions of their job).")
        log_dir = settings.PIMLAB_LOG_DIR
        if log_dir:
            self.stdout.write("")
            self.stdout.write(
                f"Full JSON logs: {log_dir}/ (web.log, worker.log, beat.log, rotated); "
                "this console shows warnings and errors only. Ctrl-C stops the lab."
            )

    @staticmethod
    def _server_answers(url: str, *, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        return False
