"""Loads retention policies, payers and amount ceilings from ``data/reference_data.json``.

Used by the data migration (with historical models) and by ``claims_reference_data_load``; existing
rows are left as operators edited them unless ``overwrite`` is set."""

from __future__ import annotations

import json
from pathlib import Path

REFERENCE_DATA_FILE = Path(__file__).parent / "data" / "reference_data.json"


def reference_data_load(
    *, retention_policy_model, payer_model, amount_ceiling_model, using: str = "default", overwrite: bool = False
) -> dict[str, int]:
    data = json.loads(REFERENCE_DATA_FILE.read_text())
    created = {"retention_policies": 0, "payers": 0, "amount_ceilings": 0}

    def upsert(model, lookup: dict, defaults: dict, kind: str) -> None:
        manager = model.objects.using(using)
        if overwrite:
            _obj, was_created = manager.update_or_create(**lookup, defaults=defaults)
        else:
            _obj, was_created = manager.get_or_create(**lookup, defaults=defaults)
        created[kind] += int(was_created)

    for row in data["retention_policies"]:
        upsert(
            retention_policy_model,
            {"retention_class": row["retention_class"]},
            {k: row[k] for k in ("active_days", "retention_days", "description")},
            "retention_policies",
        )
    for row in data["payers"]:
        upsert(
            payer_model,
            {"code": row["code"]},
            {"name": row["name"], "retention_class_id": row["retention_class"]},
            "payers",
        )
    for row in data["amount_ceilings"]:
        upsert(
            amount_ceiling_model,
            {"role": row["role"]},
            {"max_claim_total": row["max_claim_total"], "note": row.get("note", "")},
            "amount_ceilings",
        )
    return created
