"""The clinical glossary: loading the data file into ``GlossaryTerm`` and a cached, compiled view of it.

The validator asks ``glossary_rules()`` on every note update; the compiled patterns are cached
for ``GLOSSARY_CACHE_SECONDS`` (and dropped at once when a term is saved in this process).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.db import transaction

from ..models import GlossaryAction, GlossaryTerm

GLOSSARY_DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "clinical_glossary.yaml"
GLOSSARY_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    canonical: str
    action: str
    category: str
    guidance: str


@dataclass(frozen=True)
class GlossaryRules:
    entries: dict[str, GlossaryEntry]  # keyed by the term, lower-cased for case-insensitive ones
    case_sensitive: re.Pattern | None
    case_insensitive: re.Pattern | None

    def entry_for(self, matched: str) -> GlossaryEntry:
        return self.entries.get(matched) or self.entries[matched.lower()]


@dataclass(frozen=True)
class GlossaryLoadResult:
    created: int
    updated: int


def glossary_terms_load(*, path: Path = GLOSSARY_DATA_FILE, using: str = "default") -> GlossaryLoadResult:
    """Upsert the data file's terms (by ``term``); terms added in the admin are left alone."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    created = updated = 0
    with transaction.atomic(using=using):
        for item in document.get("terms", []):
            defaults = {
                "canonical": item["canonical"],
                "action": item.get("action", GlossaryAction.NORMALISE),
                "category": item.get("category", "abbreviation"),
                "case_sensitive": bool(item.get("case_sensitive", True)),
                "guidance": item.get("guidance", ""),
                "from_data_file": True,
            }
            _, was_created = GlossaryTerm.objects.using(using).update_or_create(term=item["term"], defaults=defaults)
            created, updated = created + was_created, updated + (not was_created)
    glossary_cache.forget()
    return GlossaryLoadResult(created=created, updated=updated)


def _pattern(terms: list[str], *, flags: int) -> re.Pattern | None:
    if not terms:
        return None
    # Longest first so "high blood pressure" wins over a shorter overlapping term; the
    # look-arounds work for terms that start or end with punctuation ("b.i.d.", "c/o").
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w/.])(?:{alternatives})(?![\w/])", flags)


def _compile() -> GlossaryRules:
    sensitive, insensitive, entries = [], [], {}
    for term in GlossaryTerm.objects.using("default").filter(active=True):
        entry = GlossaryEntry(term.term, term.canonical, term.action, term.category, term.guidance)
        if term.case_sensitive:
            sensitive.append(term.term)
            entries[term.term] = entry
        else:
            insensitive.append(term.term)
            entries[term.term.lower()] = entry
    return GlossaryRules(
        entries=entries,
        case_sensitive=_pattern(sensitive, flags=0),
        case_insensitive=_pattern(insensitive, flags=re.IGNORECASE),
    )


class GlossaryCache:
    def __init__(self, ttl_seconds: float = GLOSSARY_CACHE_SECONDS):
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._rules: GlossaryRules | None = None
        self._loaded_at = float("-inf")

    def rules(self) -> GlossaryRules:
        now = time.monotonic()
        if self._rules is not None and now - self._loaded_at < self._ttl:
            return self._rules
        with self._lock:
            if self._rules is None or now - self._loaded_at >= self._ttl:
                self._rules, self._loaded_at = _compile(), now
            return self._rules

    def forget(self) -> None:
        with self._lock:
            self._rules, self._loaded_at = None, float("-inf")


glossary_cache = GlossaryCache()


def glossary_rules() -> GlossaryRules:
    return glossary_cache.rules()
