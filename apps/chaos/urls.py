from django.urls import path

from . import apis

urlpatterns = [
    path("chaos/schema", apis.SchemaApi.as_view(), name="chaos-schema"),
    path("chaos/activities", apis.ActivityCatalogueApi.as_view(), name="chaos-activities"),
    path("chaos/experiments", apis.ExperimentListApi.as_view(), name="chaos-experiments"),
    path("chaos/experiments/submit", apis.ExperimentSubmitApi.as_view(), name="chaos-experiment-submit"),
    path("chaos/revisions/<id:revision_id>", apis.RevisionDetailApi.as_view(), name="chaos-revision"),
    path("chaos/revisions/<id:revision_id>/dry-run", apis.RevisionDryRunApi.as_view(), name="chaos-dry-run"),
    path("chaos/revisions/<id:revision_id>/approve", apis.RevisionApproveApi.as_view(), name="chaos-approve"),
    path("chaos/revisions/<id:revision_id>/launch", apis.RevisionLaunchApi.as_view(), name="chaos-launch"),
    path("chaos/runs/<id:run_id>", apis.RunDetailApi.as_view(), name="chaos-run"),
    path("chaos/runs/<id:run_id>/report", apis.RunReportApi.as_view(), name="chaos-run-report"),
    path("chaos/runs/<id:run_id>/abort", apis.RunAbortApi.as_view(), name="chaos-run-abort"),
    path("chaos/runs/<id:run_id>/close", apis.RunCloseApi.as_view(), name="chaos-run-close"),
    path("chaos/kill-switch", apis.KillSwitchApi.as_view(), name="chaos-kill-switch"),
    path("chaos/annotations", apis.GrafanaAnnotationsApi.as_view(), name="chaos-annotations"),
]
