"""Pages over rows that live on several shards: one bounded count and one bounded fetch per shard,
merged in the order the caller names, so a list page costs the same number of queries, and reads
at most a bounded number of index entries, at any size of the data."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

# Counting stops here: past it a page says "of 1,000+" instead of reading every matching row, and
# page numbers past the counted rows are not offered (a deep offset costs as much as a full read).
COUNT_LIMIT = 1000


@dataclass(frozen=True)
class ShardedPage:
    rows: list
    number: int
    per_page: int
    total: int
    total_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.rows) - 1 if self.rows else 0


def page_number(raw: Any) -> int:
    """A 1-based page number from a query parameter; anything odd means the first page."""
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def paginate_across_shards(
    querysets: Iterable[QuerySet],
    *,
    key: Callable[[Any], Any],
    number: int,
    per_page: int,
    count_limit: int = COUNT_LIMIT,
) -> ShardedPage:
    """Page ``number`` of the union of ``querysets`` (each already ordered by ``key``).

    Each shard counts at most ``count_limit`` rows (``SELECT count(*) FROM (... LIMIT n)``), so the
    total is exact up to ``count_limit`` and marked ``total_capped`` beyond it."""
    querysets = list(querysets)
    total = sum(queryset[: count_limit + 1].count() for queryset in querysets)
    capped = total > count_limit
    total = min(total, count_limit)
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    end = number * per_page
    merged = heapq.merge(*(list(queryset[:end]) for queryset in querysets), key=key)
    rows = list(merged)[(number - 1) * per_page : end]
    return ShardedPage(rows=rows, number=number, per_page=per_page, total=total, total_capped=capped)
