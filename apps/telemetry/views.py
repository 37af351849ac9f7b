from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .health import readiness


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    checks = readiness()
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    return JsonResponse(
        {"status": "not_ready" if failing else "ready", "failing": failing, "checks": checks},
        status=503 if failing else 200,
    )
