from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from apps.core.models import Persona, PersonaRole


class Command(BaseCommand):
    help = "Print each persona user with its role and API token (use as `Authorization: Token <token>`)."

    def add_arguments(self, parser):
        parser.add_argument("--role", choices=PersonaRole.values, help="Only personas of this role.")
        parser.add_argument("--limit", type=int, default=0, help="At most this many per role (0 = all).")

    def handle(self, *args, role: str | None = None, limit: int = 0, **options):
        personas = Persona.objects.using("default").select_related("user").order_by("role", "user__username")
        if role:
            personas = personas.filter(role=role)
        tokens = dict(
            Token.objects.using("default").filter(user_id__in=personas.values("user_id")).values_list("user_id", "key")
        )
        shown: dict[str, int] = {}
        self.stdout.write(f"{'username':<16} {'role':<14} {'patient_id':<20} token")
        for persona in personas:
            shown[persona.role] = shown.get(persona.role, 0) + 1
            if limit and shown[persona.role] > limit:
                continue
            patient = str(persona.patient_id) if persona.patient_id else "-"
            token = tokens.get(persona.user_id, "(none: run seed_lab)")
            self.stdout.write(f"{persona.user.username:<16} {persona.role:<14} {patient:<20} {token}")
