from django.core.management.base import BaseCommand

from apps.core.models import Persona, PersonaRole
from apps.core.tokens import api_token_issue, api_token_ttl, api_tokens_revoke


class Command(BaseCommand):
    help = (
        "Issue a fresh API token for each persona user and print it once (use as `Authorization: Token <token>`). "
        "Tokens are stored hashed: they cannot be shown again, only re-issued."
    )

    def add_arguments(self, parser):
        parser.add_argument("--role", choices=PersonaRole.values, help="Only personas of this role.")
        parser.add_argument("--limit", type=int, default=0, help="At most this many per role (0 = all).")
        parser.add_argument("--revoke", action="store_true", help="Revoke the personas' earlier tokens first.")

    def handle(self, *args, role: str | None = None, limit: int = 0, revoke: bool = False, **options):
        personas = Persona.objects.using("default").select_related("user").order_by("role", "user__username")
        if role:
            personas = personas.filter(role=role)
        shown: dict[str, int] = {}
        hours = api_token_ttl().total_seconds() / 3600
        self.stdout.write(f"Tokens expire in {hours:g} h.")
        self.stdout.write(f"{'username':<16} {'role':<14} {'patient_id':<20} token")
        for persona in personas:
            shown[persona.role] = shown.get(persona.role, 0) + 1
            if limit and shown[persona.role] > limit:
                continue
            if revoke:
                api_tokens_revoke(user=persona.user)
            patient = str(persona.patient_id) if persona.patient_id else "-"
            token = api_token_issue(user=persona.user)
            self.stdout.write(f"{persona.user.username:<16} {persona.role:<14} {patient:<20} {token}")
