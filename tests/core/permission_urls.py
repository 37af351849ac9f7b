"""Endpoints guarded by each persona permission class (test URLconf)."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.permissions import HasPersonaRole, IsBillingAdmin, IsClinician, IsOperator, IsPatient, IsSRE


def guarded(permission):
    class GuardedView(APIView):
        permission_classes = [permission]

        def get(self, request):
            return Response({"user": request.user.username, "role": request.user.persona.role})

    return GuardedView.as_view()


GUARDS = {
    "patient": IsPatient,
    "clinician": IsClinician,
    "billing_admin": IsBillingAdmin,
    "sre": IsSRE,
    "operator": IsOperator,
    "care": HasPersonaRole.of("clinician", "billing_admin"),
}

urlpatterns = [path(f"guarded/{name}/", guarded(permission)) for name, permission in GUARDS.items()]
