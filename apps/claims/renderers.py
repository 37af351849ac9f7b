from rest_framework.renderers import JSONRenderer


class FhirJsonRenderer(JSONRenderer):
    """Selected by ``?format=fhir`` or ``Accept: application/fhir+json``."""

    media_type = "application/fhir+json"
    format = "fhir"
