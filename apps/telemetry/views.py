from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .health import readiness


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """Ready or not for everyone (load balancers, probes); which check failed, and the hosts and
    users it reached, only for signed-in staff: that detail maps the lab's infrastructure."""
    checks = readiness()
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    body = {"status": "not_ready" if failing else "ready"}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        body.update({"failing": failing, "checks": checks})
    return JsonResponse(body, status=503 if failing else 200)
