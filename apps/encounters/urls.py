from django.urls import path

from .note_views import EncounterNoteApi, EncounterNoteHistoryApi

urlpatterns: list = [
    # --- Clinical notes ---
    path("encounters/<int:encounter_id>/notes", EncounterNoteApi.as_view(), name="encounter-note"),
    path(
        "encounters/<int:encounter_id>/notes/history", EncounterNoteHistoryApi.as_view(), name="encounter-note-history"
    ),
    # --- end clinical notes ---
]
