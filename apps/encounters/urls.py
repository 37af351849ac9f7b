from django.urls import path

from .views import EncounterBookApi, EncounterDetailApi

urlpatterns: list = [
    # Booking (seed "Patient Books Encounter").
    path("encounters", EncounterBookApi.as_view(), name="encounter-book"),
    path("encounters/<str:encounter_id>", EncounterDetailApi.as_view(), name="encounter-detail"),
]
