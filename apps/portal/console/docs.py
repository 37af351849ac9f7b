"""Runbooks and ADRs from docs/ as text, so links in alerts and reports open in the console."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .access import console_reader

DOC_FOLDERS = ("docs/runbooks", "docs/ADR")


def doc_path(relative: str) -> Path | None:
    """The file under docs/runbooks or docs/ADR that ``relative`` names (an anchor is ignored), else None."""
    relative = relative.split("#", 1)[0]
    root = Path(settings.BASE_DIR).resolve()
    candidate = (root / relative).resolve()
    allowed = [(root / folder).resolve() for folder in DOC_FOLDERS]
    if candidate.suffix != ".md" or not any(candidate.is_relative_to(folder) for folder in allowed):
        return None
    return candidate if candidate.is_file() else None


@require_GET
@console_reader
def doc_page(request, path: str):
    found = doc_path(path)
    if found is None:
        raise Http404("Only Markdown files under docs/runbooks and docs/ADR open here.")
    return render(request, "console/doc.html", {"path": path, "text": found.read_text(encoding="utf-8")})
