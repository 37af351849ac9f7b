from .note_admin import register_encounter_admin

# Keep this last: it layers the clinical-note history (diffs, revert disabled) over any Encounter admin above.
register_encounter_admin()
