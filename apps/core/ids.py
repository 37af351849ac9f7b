"""64-bit ids that carry their logical bucket, so any id routes to its shard without a lookup.

Layout (Instagram-style, 63 bits used so the value stays a positive signed BIGINT):
``[41 bits ms since 2024-01-01][10 bits logical bucket][12 bits sequence]``.
Rows owned by a patient reuse the patient's bucket, so they always live on the patient's shard.
"""

from __future__ import annotations

import itertools
import random
import threading
import time

from .errors import NotFound

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
BUCKET_BITS = 10
SEQUENCE_BITS = 12
BUCKET_COUNT = 1 << BUCKET_BITS
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1
_BUCKET_MASK = BUCKET_COUNT - 1

MAX_ID = (1 << 63) - 1


def _digits_up_to(limit: str) -> str:
    """A regex (no anchors) matching the decimal numbers 1..``limit`` without leading zeros."""
    branches = [f"[1-9][0-9]{{0,{len(limit) - 2}}}"]
    for position, digit in enumerate(map(int, limit)):
        lowest = 1 if position == 0 else 0
        if digit > lowest:
            below = f"[{lowest}-{digit - 1}]" if digit - 1 > lowest else str(lowest)
            rest = len(limit) - position - 1
            branches.append(limit[:position] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    branches.append(limit)
    return "(?:" + "|".join(branches) + ")"


# Every id as text (JSON strings, URL segments): exactly the numbers 1..MAX_ID, no leading zeros.
ID_REGEX = _digits_up_to(str(MAX_ID))
ID_PATTERN = f"^{ID_REGEX}$"

# A random start keeps two processes minting ids in the same millisecond and bucket apart.
_sequence = itertools.count(random.SystemRandom().randrange(1 << SEQUENCE_BITS))
_lock = threading.Lock()


class InvalidShardedId(NotFound, ValueError):
    """Not an id the lab issued: to an API caller that is the same answer as an unknown id (404)."""

    code = "invalid_id"
    remediation = "Ids are the numeric strings returned by the API; check you copied the whole id."


def new_id(bucket: int) -> int:
    if not 0 <= bucket < BUCKET_COUNT:
        raise InvalidShardedId(f"bucket {bucket} is outside 0..{BUCKET_COUNT - 1}")
    with _lock:
        sequence = next(_sequence) & _SEQUENCE_MASK
    elapsed_ms = int(time.time() * 1000) - EPOCH_MS
    return (elapsed_ms << (BUCKET_BITS + SEQUENCE_BITS)) | (bucket << SEQUENCE_BITS) | sequence


def bucket_of(sharded_id: int | str) -> int:
    try:
        value = int(sharded_id)
    except (TypeError, ValueError) as exc:
        raise InvalidShardedId(f"{sharded_id!r} is not a numeric id") from exc
    if value <= 0 or value >= 1 << 63:
        raise InvalidShardedId(f"{sharded_id!r} is not a 63-bit positive id")
    return (value >> SEQUENCE_BITS) & _BUCKET_MASK


def random_bucket(rng: random.Random | None = None) -> int:
    return (rng or random).randrange(BUCKET_COUNT)
