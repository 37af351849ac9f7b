"""Experiment manifests: where they live, how they are parsed, hashed and checked against the schema."""

from __future__ import annotations

import hashlib
import json
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


def parse(text: str) -> tuple[dict, list[str]]:
    """The manifest as a dict and the YAML errors (empty when it parsed to a mapping)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return {}, [f"YAML: {exc}"]
    if not isinstance(data, dict):
        return {}, ["The manifest must be a YAML mapping (title, owner, adr, …)."]
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
