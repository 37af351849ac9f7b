"""SRE API of the chaos controller: submit, dry-run, approve, launch, abort, close, read run and report."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api_errors import Problem
from apps.core.permissions import IsSRE
from apps.telemetry import context as telemetry_context

from . import activities, manifests, selectors, services
from .errors import ManifestUnparseable
from .models import ChaosSwitch, ExperimentRevision, ExperimentRun


def _rule_violation(exc: services.ChaosRuleViolation) -> Problem:
    return Problem(
        status_code=exc.status,
        title=exc.title,
        detail=exc.detail,
        remediation=exc.remediation,
        code=exc.code,
    )


def _revision_or_404(revision_id: int) -> ExperimentRevision:
    revision = selectors.revision_get(revision_id)
    if revision is None:
        raise Problem(
            status_code=404,
            title="Not found",
            detail=f"No revision {revision_id}.",
            remediation="List experiments at /api/chaos/experiments to find revision ids.",
        )
    return revision


def _run_or_404(run_id: int) -> ExperimentRun:
    run = selectors.run_get(run_id)
    if run is None:
        raise Problem(
            status_code=404,
            title="Not found",
            detail=f"No run {run_id}.",
            remediation="The run id is in the answer to the launch request.",
        )
    return run


class RevisionOutput(serializers.ModelSerializer):
    experiment = serializers.CharField(source="experiment.key")

    class Meta:
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


class RunOutput(serializers.ModelSerializer):
    experiment = serializers.CharField(source="revision.experiment.key")
    revision_number = serializers.IntegerField(source="revision.number")

    class Meta:
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


class SchemaApi(APIView):
    """The published JSON Schema of experiment manifests."""

    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(manifests.experiment_schema())


class ActivityCatalogueApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(activities.catalogue())


class ExperimentListApi(APIView):
    permission_classes = [IsSRE]

    class Output(serializers.Serializer):
        class Meta:
            ref_name = "ChaosExperimentListOutput"

        key = serializers.CharField()
        title = serializers.CharField()
        source = serializers.CharField()
        current_revision = RevisionOutput()

    @extend_schema(responses=Output(many=True))
    def get(self, request):
        return Response(self.Output(selectors.experiment_list(), many=True).data)


class ExperimentSubmitApi(APIView):
    permission_classes = [IsSRE]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ChaosExperimentSubmitInput"

        name = serializers.SlugField(max_length=150)
        manifest = serializers.CharField(help_text="The manifest as YAML (or JSON) text.")

    @extend_schema(request=Input, responses={201: RevisionOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            revision = services.experiment_submit(
                key=f"api/{data.validated_data['name']}",
                manifest_text=data.validated_data["manifest"],
                author=request.user.username,
            )
        except ManifestUnparseable as exc:
            raise Problem(
                status_code=exc.status,
                title=exc.title,
                detail=exc.detail,
                remediation=exc.remediation,
                code=exc.code,
                line=exc.line,
                column=exc.column,
            ) from exc
        return Response(RevisionOutput(revision).data, status=status.HTTP_201_CREATED)


class RevisionDetailApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(responses=RevisionOutput)
    def get(self, request, revision_id: int):
        return Response(RevisionOutput(_revision_or_404(revision_id)).data)


class RevisionDryRunApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, revision_id: int):
        revision = _revision_or_404(revision_id)
        report = services.revision_dry_run(revision=revision)
        revision.refresh_from_db()
        return Response({"status": revision.status, "report": report})


class RevisionApproveApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(request=None, responses=RevisionOutput)
    def post(self, request, revision_id: int):
        try:
            revision = services.revision_approve(revision=_revision_or_404(revision_id), approver=request.user.username)
        except services.ChaosRuleViolation as exc:
            raise _rule_violation(exc) from exc
        return Response(RevisionOutput(revision).data)


class RevisionLaunchApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(request=None, responses={202: RunOutput})
    def post(self, request, revision_id: int):
        request_id = telemetry_context.current().get("request_id") or ""
        try:
            run = services.run_launch(
                revision=_revision_or_404(revision_id), launched_by=request.user.username, request_id=request_id
            )
        except services.ChaosRuleViolation as exc:
            raise _rule_violation(exc) from exc
        return Response(RunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(responses=RunOutput)
    def get(self, request, run_id: int):
        return Response(RunOutput(_run_or_404(run_id)).data)


class RunReportApi(APIView):
    permission_classes = [IsSRE]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, run_id: int):
        return Response(selectors.run_report(_run_or_404(run_id)))


class RunAbortApi(APIView):
    permission_classes = [IsSRE]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ChaosRunAbortInput"

        reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema(request=Input, responses={202: RunOutput})
    def post(self, request, run_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = services.run_abort(
                run=_run_or_404(run_id),
                requested_by=request.user.username,
                reason=data.validated_data.get("reason", ""),
            )
        except services.ChaosRuleViolation as exc:
            raise _rule_violation(exc) from exc
        return Response(RunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class RunCloseApi(APIView):
    permission_classes = [IsSRE]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ChaosRunCloseInput"

        adr_ref = serializers.CharField(max_length=300)
        notes = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(request=Input, responses=RunOutput)
    def post(self, request, run_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = services.run_close(
                run=_run_or_404(run_id),
                closed_by=request.user.username,
                adr_ref=data.validated_data["adr_ref"],
                notes=data.validated_data.get("notes", ""),
            )
        except services.ChaosRuleViolation as exc:
            raise _rule_violation(exc) from exc
        return Response(RunOutput(run).data)


class KillSwitchApi(APIView):
    permission_classes = [IsSRE]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ChaosKillSwitchInput"

        engaged = serializers.BooleanField()
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        switch = ChaosSwitch.objects.filter(pk=1).first()
        if switch is None:
            return Response({"engaged": False, "reason": "", "changed_by": ""})
        return Response({"engaged": switch.engaged, "reason": switch.reason, "changed_by": switch.changed_by})

    @extend_schema(request=Input, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        switch = services.kill_switch_set(
            engaged=data.validated_data["engaged"],
            changed_by=request.user.username,
            reason=data.validated_data.get("reason", ""),
        )
        return Response({"engaged": switch.engaged, "reason": switch.reason, "changed_by": switch.changed_by})


class GrafanaAnnotationsApi(APIView):
    """Chaos annotations (start, injection, recovery, end) in Grafana's annotation JSON format."""

    permission_classes = [IsSRE]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        start, end = request.query_params.get("from"), request.query_params.get("to")

        def moment(value):
            if not value:
                return None
            if value.isdigit():
                from datetime import UTC, datetime

                return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
            parsed = parse_datetime(value)
            if parsed is None:
                raise Problem(
                    status_code=400,
                    title="Bad time range",
                    detail=f"Cannot read {value!r} as a time.",
                    remediation="Give from/to as epoch milliseconds (as Grafana does) or ISO 8601.",
                )
            return parsed

        return Response(selectors.grafana_annotations(start=moment(start), end=moment(end)))
