"""A small instrumented endpoint for telemetry tests, beside the real URLconf."""

import structlog
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.resolver import shard_for_id
from apps.patients.models import Patient
from apps.telemetry import context
from apps.telemetry.tasks import trace_probe

logger = structlog.get_logger("tests.telemetry.probe")


class ProbeView(APIView):
    """Resolves the patient's shard, reads the patient, logs, and optionally enqueues a task."""

    def get(self, request, patient_id: int):
        alias = shard_for_id(patient_id)
        context.bind(shard_id=alias)
        exists = Patient.objects.using(alias).filter(pk=patient_id).exists()
        logger.info("probe_handled", exists=exists)
        queue = request.GET.get("queue")
        if queue:
            trace_probe.apply_async(args=[request.GET.get("label", "")], queue=queue)
        return Response({"trace_id": context.current_trace_id(), "request_id": context.current()["request_id"]})


urlpatterns = [
    path("probe/<int:patient_id>/", ProbeView.as_view()),
    path("", include("pimlab_portal.urls")),
]
