"""The shipped procedure (CPT-like) and diagnosis (ICD-10-like) code sets, and their format rules.

Format is checked first so a caller learns whether a code is malformed or merely not in the set."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

CODE_SETS_FILE = Path(__file__).parent / "data" / "code_sets.json"

PROCEDURE_FORMAT = re.compile(r"^[0-9]{4}[0-9A-Z]$")
DIAGNOSIS_FORMAT = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$|^U07\.1$")

PROCEDURE_SYSTEM = "http://www.ama-assn.org/go/cpt"
DIAGNOSIS_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"


@cache
def _code_sets() -> dict[str, dict[str, str]]:
    data = json.loads(CODE_SETS_FILE.read_text())
    return {"procedure": data["procedure"], "diagnosis": data["diagnosis"]}


def procedure_code_problem(code: str) -> str | None:
    """Why ``code`` is not an acceptable procedure code, or None when it is."""
    if not PROCEDURE_FORMAT.match(code):
        return (
            f"{code!r} is not a procedure code: use 5 characters, 4 digits then a digit or capital letter (e.g. 99213)."
        )
    if code not in _code_sets()["procedure"]:
        return f"{code!r} is not in the shipped procedure code set."
    return None


def diagnosis_code_problem(code: str) -> str | None:
    if not DIAGNOSIS_FORMAT.match(code):
        return (
            f"{code!r} is not an ICD-10 code: a letter, two characters, then optionally a dot and 1-4 more "
            "(e.g. E11.9)."
        )
    if code not in _code_sets()["diagnosis"]:
        return f"{code!r} is not in the shipped diagnosis code set."
    return None


def procedure_display(code: str) -> str:
    return _code_sets()["procedure"].get(code, "")


def diagnosis_display(code: str) -> str:
    return _code_sets()["diagnosis"].get(code, "")


def diagnosis_codes_problems(codes: list[str]) -> list[str]:
    """Why a line's diagnosis codes are not acceptable (each code's problem, or a repeat), or []."""
    problems = [p for p in (diagnosis_code_problem(code) for code in codes) if p]
    if not problems and len(set(codes)) != len(codes):
        problems.append("List each diagnosis code once per line.")
    return problems


def code_search(kind: str, query: str, *, limit: int = 12) -> list[tuple[str, str]]:
    """Codes of the ``procedure`` or ``diagnosis`` set whose code starts with, or whose display
    contains, ``query`` (case-insensitive), codes first; for type-ahead fields."""
    codes = _code_sets().get(kind, {})
    needle = query.strip().lower()
    if not needle:
        return []
    by_code = [(code, display) for code, display in codes.items() if code.lower().startswith(needle)]
    by_text = [
        (code, display)
        for code, display in codes.items()
        if needle in display.lower() and (code, display) not in by_code
    ]
    return (sorted(by_code) + sorted(by_text))[:limit]
