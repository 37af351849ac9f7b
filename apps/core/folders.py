"""Folders the embedded profile writes to: SQLite files, kombu's filesystem broker, static files.

Created when Django starts (``CoreConfig.ready``), not when the settings are imported: importing
settings has no side effects, and every process (web, worker, beat, management commands) calls
``django.setup()`` before it opens a database or publishes a task."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

SQLITE_ENGINE = "django.db.backends.sqlite3"
# kombu's filesystem transport needs its folders before the first publish or poll.
FILESYSTEM_BROKER_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def embedded_folders() -> list[Path]:
    # WhiteNoise warns on every start when the collectstatic target is missing.
    folders = [Path(settings.STATIC_ROOT)]
    for config in settings.DATABASES.values():
        if config["ENGINE"] == SQLITE_ENGINE and str(config["NAME"]) != ":memory:":
            folders.append(Path(config["NAME"]).parent)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folders.extend(Path(options[key]) for key in FILESYSTEM_BROKER_FOLDERS if options.get(key))
    return list(dict.fromkeys(folders))


def embedded_folders_ensure() -> list[Path]:
    folders = embedded_folders()
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders
