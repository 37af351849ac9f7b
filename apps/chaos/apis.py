"""SRE API of the chaos controller: submit, dry-run, approve, launch, abort, close, read run and report."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api_fields import ApiInputSerializer
from apps.core.api_schema import raises
from apps.core.permissions import IsSRE
from apps.telemetry import context as telemetry_context

from . import activities, manifests, selectors, services
from .errors import BadTimeRange, ChaosRuleRefused, ManifestUnparseable, RevisionNotFound, RunNotFound
from .models import ChaosSwitch, ExperimentRevision, ExperimentRun


@contextmanager
def _governance_refusals():
    # The chaos services raise their own ChaosRuleViolation; the API answers it as a domain error.
    try:
        yield
    except services.ChaosRuleViolation as exc:
        raise ChaosRuleRefused(str(exc), code=exc.code) from exc


def _revision_or_404(revision_id: int) -> ExperimentRevision:
    revision = selectors.revision_get(revision_id)
    if revision is None:
        raise RevisionNotFound(f"No revision {revision_id}.")
    return revision


def _run_or_404(run_id: int) -> ExperimentRun:
    run = selectors.run_get(run_id)
    if run is None:
        raise RunNotFound(f"No run {run_id}.")
    return run


class RevisionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    experiment = serializers.CharField(source="experiment.key")

    class Meta:
        ref_name = "ChaosRevision"
        model = ExperimentRevision
        fields = [
            "id",
            "experiment",
            "number",
            "status",
            "author",
            "approved_by",
            "approved_at",
            "approvals",
            "approvals_required",
            "content_hash",
            "dry_run_report",
            "dry_run_at",
            "manifest",
            "created_at",
        ]


class RunSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    revision = serializers.CharField(source="revision_id", read_only=True)
    experiment = serializers.CharField(source="revision.experiment.key")
    revision_number = serializers.IntegerField(source="revision.number")

    class Meta:
        ref_name = "ChaosRun"
        model = ExperimentRun
        fields = [
            "id",
            "experiment",
            "revision",
            "revision_number",
            "status",
            "outcome",
            "deviated",
            "launched_by",
            "abort_requested",
            "abort_reason",
            "summary",
            "journal",
            "heartbeat_at",
            "started_at",
            "ended_at",
            "closed_at",
            "closed_by",
            "close_adr_ref",
            "close_notes",
        ]


class KillSwitchSerializer(serializers.Serializer):
    engaged = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    changed_by = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "ChaosKillSwitch"


class SchemaApi(APIView):
    """The published JSON Schema of experiment manifests."""

    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(manifests.experiment_schema())


class ActivityCatalogueApi(APIView):
    permission_classes = [IsSRE]

    class OutputSerializer(serializers.Serializer):
        kind = serializers.CharField()
        name = serializers.CharField()
        targets = serializers.ListField(child=serializers.CharField())
        summary = serializers.CharField()
        arguments = serializers.ListField(child=serializers.CharField(), help_text="The only arguments it takes.")
        limits = serializers.DictField(child=serializers.FloatField(), help_text="Ceiling of each numeric argument.")
        choices = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), help_text="Allowed values of name arguments."
        )
        requires = serializers.ListField(
            child=serializers.CharField(), help_text="Capabilities the profile must have (checked at dry-run)."
        )

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return Response(self.OutputSerializer(activities.catalogue(), many=True).data)


class ExperimentListApi(APIView):
    permission_classes = [IsSRE]

    class OutputSerializer(serializers.Serializer):
        key = serializers.CharField()
        title = serializers.CharField()
        source = serializers.CharField()
        current_revision = RevisionSerializer(allow_null=True)

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return Response(self.OutputSerializer(selectors.experiment_list(), many=True).data)


class ExperimentSubmitApi(APIView):
    permission_classes = [IsSRE]

    class InputSerializer(ApiInputSerializer):
        name = serializers.SlugField(max_length=150)
        manifest = serializers.CharField(help_text="The manifest as YAML (or JSON) text.")

    @extend_schema(request=InputSerializer, responses={201: RevisionSerializer})
    @raises(ManifestUnparseable)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        revision = services.experiment_submit(
            key=f"api/{data.validated_data['name']}",
            manifest_text=data.validated_data["manifest"],
            author=request.user.username,
        )
        return Response(RevisionSerializer(revision).data, status=status.HTTP_201_CREATED)


class RevisionDetailApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(responses=RevisionSerializer)
    @raises(RevisionNotFound)
    def get(self, request, revision_id: int):
        return Response(RevisionSerializer(_revision_or_404(revision_id)).data)


class RevisionDryRunApi(APIView):
    permission_classes = [IsSRE]

    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        report = serializers.DictField(help_text="ok and the checks (check, ok, errors) of the dry run.")

    @extend_schema(request=None, responses=OutputSerializer)
    @raises(RevisionNotFound)
    def post(self, request, revision_id: int):
        revision = _revision_or_404(revision_id)
        report = services.revision_dry_run(revision=revision)
        revision.refresh_from_db()
        return Response(self.OutputSerializer({"status": revision.status, "report": report}).data)


class RevisionApproveApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(request=None, responses=RevisionSerializer)
    @raises(RevisionNotFound, ChaosRuleRefused)
    def post(self, request, revision_id: int):
        with _governance_refusals():
            revision = services.revision_approve(revision=_revision_or_404(revision_id), approver=request.user.username)
        return Response(RevisionSerializer(revision).data)


class RevisionLaunchApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(request=None, responses={202: RunSerializer})
    @raises(RevisionNotFound, ChaosRuleRefused)
    def post(self, request, revision_id: int):
        request_id = telemetry_context.current().get("request_id") or ""
        with _governance_refusals():  # run_launch hands the run to the chaos worker on commit
            run = services.run_launch(
                revision=_revision_or_404(revision_id), launched_by=request.user.username, request_id=request_id
            )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(responses=RunSerializer)
    @raises(RunNotFound)
    def get(self, request, run_id: int):
        return Response(RunSerializer(_run_or_404(run_id)).data)


class RunReportApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @raises(RunNotFound)
    def get(self, request, run_id: int):
        return Response(selectors.run_report(_run_or_404(run_id)))


class RunAbortApi(APIView):
    permission_classes = [IsSRE]

    class InputSerializer(ApiInputSerializer):
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={202: RunSerializer})
    @raises(RunNotFound, ChaosRuleRefused)
    def post(self, request, run_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _governance_refusals():
            run = services.run_abort(
                run=_run_or_404(run_id),
                requested_by=request.user.username,
                reason=data.validated_data.get("reason", ""),
            )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunCloseApi(APIView):
    permission_classes = [IsSRE]

    class InputSerializer(ApiInputSerializer):
        adr_ref = serializers.CharField(max_length=300)
        notes = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses=RunSerializer)
    @raises(RunNotFound, ChaosRuleRefused)
    def post(self, request, run_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _governance_refusals():
            run = services.run_close(
                run=_run_or_404(run_id),
                closed_by=request.user.username,
                adr_ref=data.validated_data["adr_ref"],
                notes=data.validated_data.get("notes", ""),
            )
        return Response(RunSerializer(run).data)


class KillSwitchApi(APIView):
    permission_classes = [IsSRE]

    class InputSerializer(ApiInputSerializer):
        engaged = serializers.BooleanField()
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema(responses=KillSwitchSerializer)
    def get(self, request):
        switch = ChaosSwitch.objects.filter(pk=1).first()
        if switch is None:
            return Response({"engaged": False, "reason": "", "changed_by": ""})
        return Response(KillSwitchSerializer(switch).data)

    @extend_schema(request=InputSerializer, responses=KillSwitchSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        switch = services.kill_switch_set(
            engaged=data.validated_data["engaged"],
            changed_by=request.user.username,
            reason=data.validated_data.get("reason", ""),
        )
        return Response(KillSwitchSerializer(switch).data)


class GrafanaAnnotationsApi(APIView):
    """Chaos annotations (start, injection, recovery, end) in Grafana's annotation JSON format."""

    permission_classes = [IsSRE]

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        time = serializers.IntegerField(help_text="epoch milliseconds")
        timeEnd = serializers.IntegerField(required=False, help_text="epoch milliseconds")  # Grafana's names
        isRegion = serializers.BooleanField(required=False)
        title = serializers.CharField()
        text = serializers.CharField()
        tags = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        responses=OutputSerializer(many=True),
        parameters=[
            OpenApiParameter("from", str, description="epoch milliseconds (as Grafana sends) or ISO 8601"),
            OpenApiParameter("to", str, description="epoch milliseconds (as Grafana sends) or ISO 8601"),
        ],
    )
    @raises(BadTimeRange)
    def get(self, request):
        start, end = _moment(request.query_params.get("from")), _moment(request.query_params.get("to"))
        return Response(self.OutputSerializer(selectors.grafana_annotations(start=start, end=end), many=True).data)


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        parsed = parse_datetime(value)
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None:
        raise BadTimeRange(f"Cannot read {value!r} as a time.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)
