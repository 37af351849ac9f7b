from django.urls import path

from . import views

urlpatterns = [
    path("chaos/schema", views.SchemaView.as_view(), name="chaos-schema"),
    path("chaos/activities", views.ActivityCatalogueView.as_view(), name="chaos-activities"),
    path("chaos/experiments", views.ExperimentListView.as_view(), name="chaos-experiments"),
    path("chaos/experiments/submit", views.ExperimentSubmitView.as_view(), name="chaos-experiment-submit"),
    path("chaos/revisions/<int:revision_id>", views.RevisionDetailView.as_view(), name="chaos-revision"),
    path("chaos/revisions/<int:revision_id>/dry-run", views.RevisionDryRunView.as_view(), name="chaos-dry-run"),
    path("chaos/revisions/<int:revision_id>/approve", views.RevisionApproveView.as_view(), name="chaos-approve"),
    path("chaos/revisions/<int:revision_id>/launch", views.RevisionLaunchView.as_view(), name="chaos-launch"),
    path("chaos/runs/<int:run_id>", views.RunDetailView.as_view(), name="chaos-run"),
    path("chaos/runs/<int:run_id>/report", views.RunReportView.as_view(), name="chaos-run-report"),
    path("chaos/runs/<int:run_id>/abort", views.RunAbortView.as_view(), name="chaos-run-abort"),
    path("chaos/runs/<int:run_id>/close", views.RunCloseView.as_view(), name="chaos-run-close"),
    path("chaos/kill-switch", views.KillSwitchView.as_view(), name="chaos-kill-switch"),
    path("chaos/annotations", views.GrafanaAnnotationsView.as_view(), name="chaos-annotations"),
]
