"""Audit of PHI pages in the Django admin: every change/history page of a patient, encounter (with
its note) or claim (active or archived), and every page of their lists (one event per page, naming
the patients on it), writes an audit event through the same shard table and chain as the API;
admin edits are audited too."""

from __future__ import annotations

from apps.core.actors import Actor

from .models import AuditOutcome
from .services import audit_access_record
from .vocabulary import AuditAction

ADMIN_PURPOSE = "operations (admin)"


class AuditedPhiAdminMixin:
    """Mix into a ModelAdmin of a patient-owned model. ``patient_of(obj)`` names the patient."""

    phi_resource_type = ""

    @staticmethod
    def patient_of(obj) -> int:
        return obj.patient_id

    @staticmethod
    def resource_id_of(obj):
        """The id the audit event names (an archived claim is named by its claim's id)."""
        return obj.pk

    def _phi_audit(self, request, *, obj, action: str, detail: dict | None = None, outcome=AuditOutcome.SUCCESS):
        audit_access_record(
            using=obj._state.db,
            patient_id=self.patient_of(obj),
            action=action,
            resource_type=self.phi_resource_type or self.model._meta.model_name,
            resource_id=self.resource_id_of(obj),
            actor=Actor.from_user(request.user),
            purpose=ADMIN_PURPOSE,
            outcome=outcome,
            detail=detail,
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        rows = list(changelist.result_list) if changelist is not None else []
        if rows:
            patients = sorted({str(self.patient_of(row)) for row in rows})
            self._phi_audit(
                request,
                obj=rows[0],
                action=AuditAction.ADMIN_LISTED,
                detail={"page": changelist.page_num, "rows": len(rows), "patient_ids": patients},
            )
        return response

    def _audited_object_view(self, request, object_id, action: str, response):
        if getattr(response, "status_code", None) == 200 and object_id:
            obj = self.get_object(request, object_id)
            if obj is not None:
                self._phi_audit(request, obj=obj, action=action)
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        if request.method == "GET":
            self._audited_object_view(request, object_id, AuditAction.ADMIN_VIEWED, response)
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        return self._audited_object_view(request, object_id, AuditAction.ADMIN_HISTORY_READ, response)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = sorted(form.changed_data) if form is not None else []
        self._phi_audit(
            request,
            obj=obj,
            action=AuditAction.ADMIN_CHANGED if change else AuditAction.ADMIN_ADDED,
            detail={"fields": changed},
        )
