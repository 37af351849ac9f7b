from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api_fields import ApiInputSerializer
from apps.core.models import PersonaRole
from apps.core.permissions import HasPersonaRole
from apps.outbox.eventbus import get_event_bus
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import tracer

from .selectors import financial_kpis, projection_freshness

CanReadFinancials = HasPersonaRole.of(PersonaRole.BILLING_ADMIN, PersonaRole.SRE, PersonaRole.OPERATOR)


class FinancialDashboardApi(APIView):
    """Financial KPIs from the projection's read models, with how stale they are."""

    permission_classes = [CanReadFinancials]

    @extend_schema_serializer(component_name="FinancialDashboardQuery")
    class InputSerializer(ApiInputSerializer):
        days = serializers.IntegerField(min_value=1, max_value=366, default=30)

    @extend_schema(parameters=[InputSerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        with tracer("pimlab.projections").start_as_current_span(Participant.FINANCIAL_DASHBOARD) as span:
            for key, value in context.current().items():
                if value is not None:
                    span.set_attribute(key, str(value))
            body = financial_kpis(days=data.validated_data["days"])
            body["freshness"] = projection_freshness(bus=get_event_bus)
            body["staleness_slo_seconds"] = settings.PIMLAB_CLAIM_PROJECTION_STALENESS_SLO_SECONDS
            if body["freshness"]["staleness_seconds"] is not None:
                span.set_attribute("staleness_seconds", body["freshness"]["staleness_seconds"])
        return Response(body)
