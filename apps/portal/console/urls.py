from django.urls import path

from . import alerts, docs, drills, probes, slos

urlpatterns = [
    path("console/slos", slos.slo_list_page, name="console-slos"),
    path("console/slos/<slug:name>", slos.slo_page, name="console-slo"),
    path("console/drills", drills.drill_list_page, name="console-drills"),
    path("console/drills/submit", drills.drill_submit_page, name="console-drill-submit"),
    path("console/drills/kill-switch", drills.kill_switch_action, name="console-kill-switch"),
    path("console/drills/revisions/<int:revision_id>", drills.revision_page, name="console-revision"),
    path(
        "console/drills/revisions/<int:revision_id>/dry-run",
        drills.revision_dry_run_action,
        name="console-revision-dry-run",
    ),
    path(
        "console/drills/revisions/<int:revision_id>/approve",
        drills.revision_approve_action,
        name="console-revision-approve",
    ),
    path(
        "console/drills/revisions/<int:revision_id>/launch", drills.revision_launch_page, name="console-revision-launch"
    ),
    path("console/drills/runs/<int:run_id>", drills.run_page, name="console-run"),
    path("console/drills/runs/<int:run_id>/live", drills.run_live_partial, name="console-run-live"),
    path("console/drills/runs/<int:run_id>/abort", drills.run_abort_action, name="console-run-abort"),
    path("console/drills/runs/<int:run_id>/close", drills.run_close_action, name="console-run-close"),
    path("console/drills/runs/<int:run_id>/journal.json", drills.run_journal_download, name="console-run-journal"),
    path("console/probes", probes.probe_list_page, name="console-probes"),
    path("console/probes/run", probes.probe_run_now_action, name="console-probes-run"),
    path("console/alerts", alerts.alert_list_page, name="console-alerts"),
    path("console/docs/<path:path>", docs.doc_page, name="console-doc"),
]
