from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.actors import Actor
from apps.core.api_fields import ApiInputSerializer, IdField
from apps.core.api_schema import IDEMPOTENCY_KEY_PARAMETER, raises
from apps.core.models import PersonaRole
from apps.core.permissions import HasPersonaRole, IsBillingAdmin
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from . import errors
from .access import claim_read_audit, claim_read_view, line_items_for_view
from .code_sets import diagnosis_codes_problems, procedure_code_problem
from .fhir import claim_as_fhir
from .links import claim_link, trace_link
from .renderers import FhirJsonRenderer
from .selectors import archived_claim_get, claim_get, claim_line_items, payer_list
from .services.payment import claim_payment_record
from .services.submit import LineItemInput, claim_submit

CanReadClaims = HasPersonaRole.of(PersonaRole.BILLING_ADMIN, PersonaRole.OPERATOR)


@extend_schema_serializer(component_name="ClaimLineItemInput")
class ClaimLineItemInputSerializer(ApiInputSerializer):
    """One line of a claim submission (shared by the submit API and its schema)."""

    procedure_code = serializers.CharField(max_length=5)
    diagnosis_codes = serializers.ListField(child=serializers.CharField(max_length=8), min_length=1, max_length=4)
    units = serializers.IntegerField(min_value=1, max_value=99, default=1)
    unit_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("100000")
    )

    def validate_procedure_code(self, value: str) -> str:
        problem = procedure_code_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_diagnosis_codes(self, value: list[str]) -> list[str]:
        problems = diagnosis_codes_problems(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value


class ClaimSubmitApi(APIView):
    permission_classes = [IsBillingAdmin]

    @extend_schema_serializer(component_name="ClaimSubmitInput")
    class InputSerializer(ApiInputSerializer):
        patient_id = IdField()
        encounter_id = IdField()
        payer_code = serializers.CharField(max_length=40)
        currency = serializers.ChoiceField(choices=["USD"], default="USD")
        line_items = ClaimLineItemInputSerializer(many=True, min_length=1, max_length=50)

    @extend_schema_serializer(component_name="ClaimSubmitOutput")
    class OutputSerializer(serializers.Serializer):
        claim_id = serializers.CharField(source="id")
        status = serializers.CharField()
        total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        currency = serializers.CharField()
        retention_class = serializers.CharField()
        trace_id = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={202: OutputSerializer},
    )
    @raises(*errors.SUBMISSION_ERRORS)
    def post(self, request):
        with participant_span(Participant.BILLING_SERVICE_API):
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            submission = claim_submit(
                actor=Actor.from_user(request.user),
                user=request.user,
                patient_id=values["patient_id"],
                encounter_id=values["encounter_id"],
                payer_code=values["payer_code"],
                currency=values["currency"],
                line_items=[
                    LineItemInput(
                        procedure_code=item["procedure_code"],
                        diagnosis_codes=tuple(item["diagnosis_codes"]),
                        units=item["units"],
                        unit_price=item["unit_price"],
                    )
                    for item in values["line_items"]
                ],
                idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
            )
            claim = submission.claim
            body = dict(self.OutputSerializer(claim).data)
            body["replayed"] = not submission.created
            body["links"] = {"self": claim_link(claim.id), "trace": trace_link(claim.trace_id)}
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": claim_link(claim.id)})


@extend_schema_serializer(component_name="ClaimLineItemOutput")
class ClaimLineItemOutputSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    procedure_code = serializers.CharField()
    diagnosis_codes = serializers.ListField(child=serializers.CharField())
    units = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class ClaimDetailApi(APIView):
    """A claim as JSON, or as a FHIR R4B Claim with ``?format=fhir``. Archived claims are shown read-only."""

    permission_classes = [CanReadClaims]
    renderer_classes = [JSONRenderer, FhirJsonRenderer]

    @extend_schema_serializer(component_name="ClaimDetailOutput")
    class OutputSerializer(serializers.Serializer):
        claim_id = serializers.CharField(source="id")
        patient_id = serializers.CharField()
        encounter_id = serializers.CharField()
        payer_code = serializers.CharField()
        status = serializers.CharField()
        currency = serializers.CharField()
        total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        paid_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
        retention_class = serializers.CharField()
        submitted_at = serializers.DateTimeField()
        paid_at = serializers.DateTimeField(allow_null=True)
        trace_id = serializers.CharField()
        archived = serializers.SerializerMethodField(help_text="false: an active claim")
        line_items = serializers.SerializerMethodField()
        links = serializers.SerializerMethodField(help_text="self and trace")

        def get_archived(self, claim) -> bool:
            return False

        @extend_schema_field(ClaimLineItemOutputSerializer(many=True))
        def get_line_items(self, claim):
            return ClaimLineItemOutputSerializer(self.context["line_items"], many=True).data

        def get_links(self, claim) -> dict[str, str]:
            return {"self": claim_link(claim.id), "trace": trace_link(claim.trace_id)}

    @extend_schema_serializer(component_name="ArchivedClaimDetailOutput")
    class ArchivedOutputSerializer(serializers.Serializer):
        claim_id = serializers.CharField()
        archived = serializers.SerializerMethodField(help_text="true: a read-only copy kept for the retention period")
        status = serializers.CharField()
        payer_code = serializers.CharField()
        total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        retention_class = serializers.CharField()
        archived_at = serializers.DateTimeField()
        purge_after = serializers.DateTimeField()
        line_items = serializers.ListField(child=serializers.DictField())

        def get_archived(self, archived) -> bool:
            return True

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "fhir"], description="fhir: a FHIR R4B Claim")],
        responses={
            (200, "application/json"): PolymorphicProxySerializer(
                component_name="ClaimDetail",
                serializers=[OutputSerializer, ArchivedOutputSerializer],
                resource_type_field_name=None,
            ),
            (200, "application/fhir+json"): OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4B Claim"),
        },
    )
    @raises(errors.ClaimNotFound, errors.ClaimArchived)
    def get(self, request, claim_id: int):
        actor = Actor.from_user(request.user)
        fhir = request.accepted_renderer.format == "fhir"
        view = claim_read_view(actor=actor, fhir=fhir)
        claim = claim_get(claim_id=claim_id)
        if claim is None:
            archived = archived_claim_get(claim_id=claim_id)
            if archived is None:
                raise errors.ClaimNotFound(f"No claim has id {claim_id}.")
            if fhir:
                raise errors.ClaimArchived()
            claim_read_audit(
                actor=actor,
                using=archived._state.db,
                patient_id=archived.patient_id,
                claim_id=claim_id,
                view=view,
                fhir=False,
            )
            body = dict(self.ArchivedOutputSerializer(archived).data)
            body["line_items"] = line_items_for_view(body.get("line_items") or [], view=view)
            return Response(body)
        line_items = claim_line_items(claim=claim)
        claim_read_audit(
            actor=actor, using=claim._state.db, patient_id=claim.patient_id, claim_id=claim.id, view=view, fhir=fhir
        )
        if fhir:
            return Response(claim_as_fhir(claim, line_items))
        body = dict(self.OutputSerializer(claim, context={"line_items": line_items}).data)
        body["line_items"] = line_items_for_view(body.get("line_items") or [], view=view)
        return Response(body)


class ClaimPaymentApi(APIView):
    permission_classes = [IsBillingAdmin]

    @extend_schema_serializer(component_name="ClaimPaymentInput")
    class InputSerializer(ApiInputSerializer):
        paid_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))

    @extend_schema(
        request=InputSerializer, parameters=[IDEMPOTENCY_KEY_PARAMETER], responses={200: OpenApiTypes.OBJECT}
    )
    @raises(errors.ActiveClaimNotFound, errors.IdempotencyKeyMissing, errors.IdempotencyKeyReused)
    def post(self, request, claim_id: int):
        key = request.headers.get("Idempotency-Key", "").strip()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = claim_payment_record(
            actor=Actor.from_user(request.user),
            claim_id=claim_id,
            paid_amount=data.validated_data["paid_amount"],
            idempotency_key=key,
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(result.as_dict(), status=status.HTTP_200_OK, headers=headers)


class PayerListApi(APIView):
    permission_classes = [CanReadClaims]

    @extend_schema_serializer(component_name="PayerOutput")
    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        retention_class = serializers.CharField(source="retention_class_id")

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request):
        return Response(self.OutputSerializer(payer_list(), many=True).data)
