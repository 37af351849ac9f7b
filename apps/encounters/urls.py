from django.urls import path

from .apis import EncounterBookApi, EncounterDetailApi, EncounterFinishApi
from .notes.apis import EncounterNoteApi, EncounterNoteHistoryApi

urlpatterns: list = [
    # Booking (seed "Patient Books Encounter").
    path("encounters", EncounterBookApi.as_view(), name="encounter-book"),
    path("encounters/<int:encounter_id>", EncounterDetailApi.as_view(), name="encounter-detail"),
    path("encounters/<int:encounter_id>/finish", EncounterFinishApi.as_view(), name="encounter-finish"),
    # --- Clinical notes ---
    path("encounters/<int:encounter_id>/notes", EncounterNoteApi.as_view(), name="encounter-note"),
    path(
        "encounters/<int:encounter_id>/notes/history", EncounterNoteHistoryApi.as_view(), name="encounter-note-history"
    ),
    # --- end clinical notes ---
]
