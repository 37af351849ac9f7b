"""Masking of patient identifiers in free text a persona writes (note, amendment reason, booking reason).

The patterns follow the lab's own data: MRNs are ``settings.PIMLAB_MRN_PREFIX`` + digits
(``LAB0000042``; ``MRN 1234`` style references too), SSNs with dashes, spaces, dots or none,
phone numbers with separators, brackets, a country code or as ten bare digits, e-mail addresses,
and dates of birth: a calendar date in any common format after a birth label ("DOB", "D.O.B.",
"date of birth", "born", "birthday"). Other dates stay: a visit date ("seen on 2025-05-19") is
clinical context the note needs.

Order matters: e-mail addresses and MRNs contain digit runs the later patterns would also take;
dates of birth run before phones and SSNs so ``DOB 1975.03.12`` is a date, not part of a number.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from django.conf import settings

PLACEHOLDERS = {
    "email": "[REDACTED-EMAIL]",
    "mrn": "[REDACTED-MRN]",
    "dob": "[REDACTED-DOB]",
    "ssn": "[REDACTED-SSN]",
    "phone": "[REDACTED-PHONE]",
}

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_DOB = re.compile(
    r"(?P<label>\b(?:DOB|D\.O\.B\.?|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?)"
    r"(?:\s*(?:is|was|:|#|-|=))*\s*)"
    r"(?P<date>(?:"
    r"\d{4}(?P<s1>[-/.])\d{1,2}(?P=s1)\d{1,2}"  # 1975-03-12, 1975/3/12, 1975.03.12
    r"|\d{1,2}(?P<s2>[-/.])\d{1,2}(?P=s2)\d{2}(?:\d{2})?"  # 03/12/1975, 12.03.1975, 3-12-75
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[\s-]+(?:of\s+)?{_MONTHS}[\s,-]+\d{{4}}"  # 12 March 1975, 12-Mar-1975
    rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # March 12, 1975
    r"))(?![\w])",
    re.IGNORECASE,
)
_SSN = re.compile(r"(?<![\w.-])\d{3}([- .]?)\d{2}\1\d{4}(?![\w-]|\.\d)")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w])"
    r"|(?<![\w+])\+\d{1,3}(?:[\s.-]?\d{2,4}){3,5}(?![\w])"
    r"|(?<![\w+])(?:\+?1)?\d{10}(?![\w])"  # bare ten digits (with an optional leading 1)
)


@lru_cache(maxsize=8)
def _mrn_pattern(prefix: str) -> re.Pattern:
    prefixes = "|".join(sorted({re.escape(prefix), "MRN"}, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{prefixes})[\s:#-]*\d{{4,12}}(?![\w])", re.IGNORECASE)


def mrn_prefix() -> str:
    return settings.PIMLAB_MRN_PREFIX


def mrn_key(value: str) -> str:
    """An MRN reduced to its digits' identity: ``lab-0000042`` and ``LAB0000042`` are one MRN."""
    key = re.sub(r"[^0-9A-Z]", "", value.upper())
    for prefix in (mrn_prefix().upper(), "MRN"):
        key = key.removeprefix(prefix)
    return key


def phi_redact(text: str, *, allowed_mrn: str = "") -> tuple[str, Counter[str]]:
    """``text`` with identifiers masked, and a count per kind. ``allowed_mrn`` (the patient's own
    MRN, in their own note) is kept; every other MRN is masked."""
    counts: Counter[str] = Counter()
    allowed_key = mrn_key(allowed_mrn) if allowed_mrn else None

    def masker(kind: str):
        def mask(match: re.Match) -> str:
            if kind == "mrn" and allowed_key is not None and mrn_key(match.group(0)) == allowed_key:
                return match.group(0)
            counts[kind] += 1
            if kind == "dob":
                return match.group("label") + PLACEHOLDERS[kind]
            return PLACEHOLDERS[kind]

        return mask

    patterns = (
        ("email", _EMAIL),
        ("mrn", _mrn_pattern(mrn_prefix())),
        ("dob", _DOB),
        ("ssn", _SSN),
        ("phone", _PHONE),
    )
    for kind, pattern in patterns:
        text = pattern.sub(masker(kind), text)
    return text, counts
