"""Experiment manifests: where they live, how they are parsed, hashed and checked against the schema."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from django.conf import settings

SCHEMA_PATH = Path(__file__).resolve().parent.parent.parent / "chaos" / "schema" / "experiment.schema.json"


def experiments_dir() -> Path:
    return Path(settings.PIMLAB_CHAOS_EXPERIMENTS_DIR)


@cache
def experiment_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ParseError:
    message: str
    line: int | None = None  # 1-based, as editors count
    column: int | None = None


def parse_error(text: str) -> ParseError | None:
    """Why ``text`` is no manifest mapping, with the parser's line and column when it has them."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(part for part in (exc.context, exc.problem) if part) or "unreadable YAML"
        where = f" at line {line}, column {column}" if mark else ""
        return ParseError(f"YAML{where}: {problem}.", line, column)
    except yaml.YAMLError as exc:
        return ParseError(f"YAML: {exc}")
    if not isinstance(data, dict):
        return ParseError("The manifest must be a YAML mapping (title, owner, adr, …).", 1, 1)
    return None


def parse(text: str) -> tuple[dict, list[str]]:
    """The manifest as a dict and the YAML errors (empty when it parsed to a mapping)."""
    error = parse_error(text)
    if error is not None:
        return {}, [error.message]
    data = yaml.safe_load(text)
    return data, []


def schema_errors(manifest: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(experiment_schema())
    errors = []
    for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        errors.append(f"{where}: {error.message}")
    return errors


def manifest_files(root: Path | None = None) -> list[tuple[str, str]]:
    """(key, text) of each manifest in the GitOps folder; the key is the path relative to it."""
    root = root or experiments_dir()
    if not root.is_dir():
        return []
    files = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
    return [(str(path.relative_to(root)), path.read_text()) for path in files]
