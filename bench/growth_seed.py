"""Grow the shards fast: patients, encounters and claims written by PostgreSQL itself
(``INSERT ... SELECT generate_series``), consistent with the models' constraints.

Row ``n`` of a growth is deterministic: its patient, bucket, requested start, status and claim
follow from ``n``, so growing from 10k to 1M inserts rows 10k..1M-1 and nothing else.

- ids: the lab's 64-bit layout (``[ms since 2024][bucket][sequence]``) with the row number in the
  millisecond field, far below any id minted at run time, and the patient's bucket in the bucket
  field, so every row sits on the shard its id names.
- one patient per ``ENCOUNTERS_PER_PATIENT`` encounters; unique MRNs and idempotency keys.
- requested starts spread over three years back to three months ahead; past visits are finished
  (one in twenty cancelled), future ones booked; every other finished visit has a paid claim.
- clinicians and booking users are ids no persona has (``GROWN_USER_BASE`` on), so a persona's
  own lists stay the same size while the tables around them grow.
"""

from __future__ import annotations

import time

ENCOUNTERS_PER_PATIENT = 10
GROWN_USER_BASE = 900_000_000
GROWN_CLINICIANS = 400
# Millisecond fields of grown ids (see the module docstring): patients, encounters, claims apart.
PATIENT_ID_MS = 1_000_000_000
ENCOUNTER_ID_MS = 2_000_000_000
CLAIM_ID_MS = 4_000_000_000

_ID = "((({ms}::bigint + {n}) << 22) | ({bucket}::bigint << 12))"
# The bucket of grown row n's patient: one of the shard's buckets, by patient number.
_BUCKET = "(%(buckets)s::int[])[1 + (({patient}) %% cardinality(%(buckets)s::int[]))]"
_PATIENT_NO = f"(g / {ENCOUNTERS_PER_PATIENT})"
# Hours from now (rounded to the hour): about three years back to three months ahead.
_OFFSET_HOURS = "((g * 7919) %% 28500 - 26300)"

PATIENTS_SQL = f"""
INSERT INTO patients_patient (id, mrn, given_name, family_name, birth_date, sex, phone, email, created_at, updated_at)
SELECT {_ID.format(ms=PATIENT_ID_MS, n="p", bucket=_BUCKET.format(patient="p"))},
       'G' || %(tag)s || '-' || p, 'Grown', 'Patient ' || p, date '1940-01-01' + (p %% 25000)::int, 'unknown', '', '',
       now(), now()
FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS p
"""  # noqa: S608 (module constants only: the values travel as parameters)

ENCOUNTERS_SQL = f"""
INSERT INTO encounters_encounter (id, patient_id, encounter_type, reason, requested_start, status, booked_by_user_id,
  clinician_user_id, idempotency_key, request_fingerprint, note_text, note_status, note_version, note_released,
  note_amendment_reason, created_at, updated_at)
SELECT {_ID.format(ms=ENCOUNTER_ID_MS, n="g", bucket="b")},
       {_ID.format(ms=PATIENT_ID_MS, n=_PATIENT_NO, bucket="b")},
       (ARRAY['in_person', 'telehealth', 'follow_up', 'urgent'])[1 + g %% 4], 'Grown visit', s.at,
       s.status, {GROWN_USER_BASE}, {GROWN_USER_BASE} + 1 + g %% {GROWN_CLINICIANS},
       'grow-' || %(tag)s || '-' || g, md5(g::text) || md5(g::text), '',
       CASE WHEN s.status = 'finished' THEN 'signed' ELSE 'empty' END,
       CASE WHEN s.status = 'finished' THEN 1 ELSE 0 END, false, '', s.at - interval '7 days', s.at
FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS g,
     LATERAL (SELECT {_BUCKET.format(patient=_PATIENT_NO)} AS b) AS k,
     LATERAL (SELECT date_trunc('hour', now()) + {_OFFSET_HOURS} * interval '1 hour' AS at) AS t,
     LATERAL (SELECT t.at,
                     CASE WHEN t.at >= now() THEN 'booked' WHEN g %% 20 = 0 THEN 'cancelled' ELSE 'finished' END
                     AS status) AS s
"""  # noqa: S608 (module constants only: the values travel as parameters)

CLAIMS_SQL = f"""
INSERT INTO claims_claim (id, patient_id, encounter_id, payer_code, status, currency, total_amount, paid_amount,
  retention_class, submitted_by_user_id, idempotency_key, request_fingerprint, trace_id, submitted_at, paid_at)
SELECT {_ID.format(ms=CLAIM_ID_MS, n="g", bucket="b")},
       {_ID.format(ms=PATIENT_ID_MS, n=_PATIENT_NO, bucket="b")},
       {_ID.format(ms=ENCOUNTER_ID_MS, n="g", bucket="b")},
       'ACME-HEALTH', 'paid', 'USD', 95.00, 95.00, %(retention_class)s, {GROWN_USER_BASE},
       'grow-claim-' || %(tag)s || '-' || g, md5(g::text) || md5(g::text), '', t.at + interval '1 day',
       t.at + interval '20 days'
FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS g,
     LATERAL (SELECT {_BUCKET.format(patient=_PATIENT_NO)} AS b) AS k,
     LATERAL (SELECT date_trunc('hour', now()) + {_OFFSET_HOURS} * interval '1 hour' AS at) AS t
WHERE t.at < now() - interval '1 day' AND g %% 20 <> 0 AND g %% 2 = 0
"""  # noqa: S608 (module constants only: the values travel as parameters)


def grow_shard(
    cursor, *, buckets: list[int], start: int, stop: int, tag: str = "0", retention_class: str = "standard"
) -> dict:
    """Insert grown rows ``start``..``stop - 1`` on the shard ``cursor`` writes to (``buckets`` are
    buckets that shard owns); their patients, and claims for every other finished visit. ANALYZE
    afterwards, as autovacuum would. Returns the counts and the seconds taken."""
    if stop <= start:
        return {"encounters": 0, "seconds": 0.0}
    started = time.perf_counter()
    params = {"buckets": buckets, "tag": tag, "retention_class": retention_class}
    first_patient = -(-start // ENCOUNTERS_PER_PATIENT)
    last_patient = -(-stop // ENCOUNTERS_PER_PATIENT)
    cursor.execute(PATIENTS_SQL, {**params, "start": first_patient, "stop": last_patient})
    patients = cursor.rowcount
    cursor.execute(ENCOUNTERS_SQL, {**params, "start": start, "stop": stop})
    encounters = cursor.rowcount
    cursor.execute(CLAIMS_SQL, {**params, "start": start, "stop": stop})
    claims = cursor.rowcount
    cursor.execute("ANALYZE patients_patient, encounters_encounter, claims_claim")
    return {
        "patients": patients,
        "encounters": encounters,
        "claims": claims,
        "seconds": time.perf_counter() - started,
    }


def buckets_of(alias: str) -> list[int]:
    """The logical buckets the shard map gives ``alias``."""
    from apps.core.resolver import shard_buckets

    return shard_buckets()[alias]


OUTBOX_SQL = f"""
INSERT INTO outbox_outboxevent (id, aggregate_type, aggregate_id, event_type, payload, headers, status, attempts,
  last_error, created_at, published_at)
SELECT e.id + (1::bigint << 40), 'patient', e.patient_id, 'EncounterCreated',
       jsonb_build_object('encounter_id', e.id::text, 'patient_id', e.patient_id::text), '{{}}'::jsonb, 'published', 1,
       '', e.created_at, e.created_at
FROM encounters_encounter e
WHERE e.booked_by_user_id = {GROWN_USER_BASE}
  AND NOT EXISTS (SELECT 1 FROM outbox_outboxevent o WHERE o.id = e.id + (1::bigint << 40))
"""  # noqa: S608 (module constants only)


def grow_outbox(cursor) -> int:
    """A published ``EncounterCreated`` event for every grown encounter that has none (the outbox
    as it stands before the retention purge takes published rows away); ANALYZE afterwards."""
    cursor.execute(OUTBOX_SQL)
    created = cursor.rowcount
    cursor.execute("ANALYZE outbox_outboxevent")
    return created
