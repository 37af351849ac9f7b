"""SLO API: the status of every SLO, one SLO's series for plotting, and timeline annotations for Grafana."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api_fields import ApiInputSerializer
from apps.core.api_schema import raises
from apps.core.models import PersonaRole
from apps.core.permissions import HasPersonaRole

from .errors import AlertReceiverNotConfigured, AlertReceiverTokenRefused, PrometheusQueryError, SloNotFound
from .receiver import alert_receiver_token_check
from .selectors import MAX_SERIES_POINTS, grafana_annotations, slo_series, slo_status, slo_status_list
from .services import alertmanager_notification_record

CanReadSlos = HasPersonaRole.of(PersonaRole.SRE, PersonaRole.OPERATOR)


class InstantField(serializers.Field):
    """An instant as RFC 3339 (``2026-01-01T10:00:00Z``) or Unix seconds (Prometheus style)."""

    default_error_messages = {"invalid": "Give an RFC 3339 time (2026-01-01T10:00:00Z) or Unix seconds."}

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
        moment = parse_datetime(text.replace(" ", "+")) if text else None
        if moment is None:
            self.fail("invalid")
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)

    def to_representation(self, value):
        return value.isoformat()


class SloStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField()
    service = serializers.CharField()
    objective = serializers.FloatField()
    window_days = serializers.IntegerField()
    attainment = serializers.FloatField()
    error_budget_remaining_ratio = serializers.FloatField()
    error_budget_remaining_minutes = serializers.FloatField()
    burn_rates = serializers.DictField(child=serializers.FloatField())
    alert_state = serializers.ChoiceField(choices=["ok", "ticket", "page"])
    events = serializers.DictField()
    runbook = serializers.CharField(allow_blank=True)
    source = serializers.CharField()
    evaluated_at = serializers.CharField()

    class Meta:
        ref_name = "SloStatus"


class SloListApi(APIView):
    permission_classes = [CanReadSlos]

    class OutputSerializer(serializers.Serializer):
        slos = SloStatusSerializer(many=True)

    @extend_schema(
        operation_id="slo_list", responses=OutputSerializer, summary="Every SLO with budget, burn rates and alert state"
    )
    @raises(PrometheusQueryError)
    def get(self, request):
        return Response(self.OutputSerializer({"slos": slo_status_list()}).data)


class SloDetailApi(APIView):
    permission_classes = [CanReadSlos]

    class InputSerializer(ApiInputSerializer):
        start = InstantField(required=False)
        end = InstantField(required=False)
        step = serializers.FloatField(required=False, min_value=1, help_text="Seconds between points.")

        def validate(self, attrs):
            end = attrs.get("end") or timezone.now()
            start = attrs.get("start") or end - timedelta(hours=6)
            if start >= end:
                raise serializers.ValidationError({"start": "start must be before end."})
            step = timedelta(seconds=attrs.get("step") or max((end - start).total_seconds() / 120, 30))
            if (end - start) / step > MAX_SERIES_POINTS:
                raise serializers.ValidationError(
                    {"step": f"At most {MAX_SERIES_POINTS} points per series: use a larger step or a shorter range."}
                )
            return {"start": start, "end": end, "step": step}

    class OutputSerializer(serializers.Serializer):
        status = serializers.DictField(help_text="As one item of GET /api/slo, with per-window events.")
        series = serializers.DictField(
            help_text="points (t, attainment, budget remaining, burn_rates, alert_state), annotations, alerts."
        )

        class Meta:
            ref_name = "SloDetail"

    @extend_schema(
        responses=OutputSerializer,
        parameters=[
            OpenApiParameter("start", str, description="RFC 3339 or Unix seconds; default end - 6h"),
            OpenApiParameter("end", str, description="RFC 3339 or Unix seconds; default now"),
            OpenApiParameter("step", float, description="seconds between points; default range/120, at least 30"),
        ],
        summary="One SLO: current status and its burn-rate and budget series, with timeline annotations",
    )
    @raises(SloNotFound, PrometheusQueryError)
    def get(self, request, name: str):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        status = slo_status(name)
        series = slo_series(name, **params.validated_data)
        return Response({"status": status, "series": series})


# Grafana's JSON datasource body: {"range": {"from": ..., "to": ...}, "annotation": {...}}.
GrafanaRangeSerializer = type(
    "GrafanaRangeSerializer",
    (ApiInputSerializer,),
    {
        "from": serializers.CharField(),
        "to": serializers.CharField(),
        "Meta": type("Meta", (), {"ref_name": "GrafanaRange"}),
    },
)


class GrafanaQuerySerializer(ApiInputSerializer):
    range = GrafanaRangeSerializer()
    annotation = serializers.DictField(required=False, help_text="Grafana's annotation query; `tags` filters.")

    class Meta:
        ref_name = "GrafanaAnnotationQuery"


class SloAnnotationsApi(APIView):
    """Timeline annotations (chaos drills, deploys) as a Grafana annotation source: GET with
    ``from``/``to`` (ms or RFC 3339), or POST the JSON datasource's ``{"range": {...}}`` body."""

    permission_classes = [CanReadSlos]

    class InputSerializer(ApiInputSerializer):
        start = InstantField()
        end = InstantField()
        tags = serializers.ListField(child=serializers.CharField(), required=False)

    class OutputSerializer(serializers.Serializer):
        time = serializers.IntegerField(help_text="epoch milliseconds")
        timeEnd = serializers.IntegerField(help_text="epoch milliseconds")  # Grafana's field names
        isRegion = serializers.BooleanField()
        title = serializers.CharField()
        text = serializers.CharField()
        tags = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "GrafanaAnnotation"

    @extend_schema(
        responses=OutputSerializer(many=True),
        parameters=[
            OpenApiParameter("from", str, description="epoch ms, Unix seconds or RFC 3339"),
            OpenApiParameter("to", str, description="epoch ms, Unix seconds or RFC 3339"),
            OpenApiParameter("tags", str, many=True, description="only annotations with all these tags"),
        ],
        summary="Timeline annotations in Grafana's annotation JSON format",
    )
    def get(self, request):
        data = {
            "start": _grafana_instant(request.query_params.get("from")),
            "end": _grafana_instant(request.query_params.get("to")),
        }
        if request.query_params.getlist("tags"):
            data["tags"] = request.query_params.getlist("tags")
        return self._answer(data)

    @extend_schema(
        request=GrafanaQuerySerializer,
        responses=OutputSerializer(many=True),
        summary="Timeline annotations for Grafana's JSON datasource (POST /annotations)",
    )
    def post(self, request):
        query = GrafanaQuerySerializer(data=request.data)
        query.is_valid(raise_exception=True)
        time_range = query.validated_data["range"]
        data = {"start": time_range["from"], "end": time_range["to"]}
        tags = query.validated_data.get("annotation", {}).get("tags")
        if tags:
            data["tags"] = tags
        return self._answer(data)

    def _answer(self, data):
        params = self.InputSerializer(data={k: v for k, v in data.items() if v is not None})
        params.is_valid(raise_exception=True)
        return Response(grafana_annotations(**params.validated_data))


class AlertmanagerWebhookApi(APIView):
    """Alertmanager's webhook receiver: the lab records each alert transition (with its runbook link)
    in its alert log, where the SRE console's Alerts page reads it. Authenticated by the bearer token
    in ``PIMLAB_ALERT_RECEIVER_TOKEN_FILE`` (Alertmanager's ``credentials_file``)."""

    authentication_classes: list = []
    permission_classes: list = []

    class InputSerializer(serializers.Serializer):
        version = serializers.CharField()
        receiver = serializers.CharField(required=False, allow_blank=True)
        status = serializers.ChoiceField(choices=["firing", "resolved"])
        alerts = serializers.ListField(child=serializers.DictField(), allow_empty=True)

        class Meta:
            ref_name = "AlertmanagerNotification"

        def validate_version(self, value):
            if value != "4":
                raise serializers.ValidationError("Only Alertmanager's webhook payload version 4 is understood.")
            return value

    class OutputSerializer(serializers.Serializer):
        recorded = serializers.IntegerField()
        alert_event_ids = serializers.ListField(child=serializers.IntegerField())

        class Meta:
            ref_name = "AlertmanagerReceipt"

    @extend_schema(request=InputSerializer, responses=OutputSerializer, auth=[])
    @raises(AlertReceiverNotConfigured, AlertReceiverTokenRefused)
    def post(self, request):
        alert_receiver_token_check(request.headers.get("Authorization", ""))
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        events = alertmanager_notification_record(notification=request.data)
        return Response(
            self.OutputSerializer({"recorded": len(events), "alert_event_ids": [e.pk for e in events]}).data
        )


def _grafana_instant(value):
    """Grafana sends epoch milliseconds; the rest of the API takes seconds or RFC 3339."""
    if value is not None and value.isdigit() and len(value) >= 12:
        return str(int(value) / 1000)
    return value
