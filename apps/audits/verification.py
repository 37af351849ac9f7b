"""Walks each shard's chain in the audit store and reports the first link that does not hold."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max

from apps.core.alerts import alert_raise

from .chain import GENESIS_HASH, chain_key_ring, link_hash, record_fields
from .metrics import AUDIT_CHAIN_BROKEN
from .models import AuditChainHead, AuditEvent, AuditRecord


@dataclass(frozen=True)
class BrokenLink:
    sequence: int
    record_id: int | None
    reason: str


@dataclass(frozen=True)
class ChainVerdict:
    shard_alias: str
    links_checked: int
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def audit_chain_shards() -> list[str]:
    stored = set(AuditChainHead.objects.values_list("shard_alias", flat=True))
    stored |= set(AuditRecord.objects.values_list("shard_alias", flat=True).distinct())
    return sorted(set(settings.SHARD_ALIASES) | stored)


def audit_chain_verify(*, shard_alias: str, check_source: bool = True) -> ChainVerdict:
    verdict = _walk(shard_alias, check_source=check_source)
    AUDIT_CHAIN_BROKEN.labels(shard_id=shard_alias).set(0 if verdict.intact else 1)
    return verdict


def _walk(shard_alias: str, *, check_source: bool) -> ChainVerdict:
    expected_sequence, prev_hash, checked = 1, GENESIS_HASH, 0
    ring = chain_key_ring()
    records = AuditRecord.objects.filter(shard_alias=shard_alias).order_by("sequence")
    for record in records.iterator(chunk_size=2000):
        if record.sequence != expected_sequence:
            reason = (
                f"link #{expected_sequence} is missing (the next stored link is #{record.sequence}): "
                "a record was deleted"
                if record.sequence > expected_sequence
                else f"link #{record.sequence} is out of order"
            )
            return ChainVerdict(shard_alias, checked, BrokenLink(expected_sequence, None, reason))
        if record.prev_hash != prev_hash:
            return ChainVerdict(
                shard_alias,
                checked,
                BrokenLink(
                    record.sequence,
                    record.id,
                    f"link #{record.sequence} does not point at link #{record.sequence - 1}'s hash: "
                    "a record was inserted or replaced",
                ),
            )
        key = ring.key(record.key_id)
        if key is None:
            return ChainVerdict(
                shard_alias,
                checked,
                BrokenLink(
                    record.sequence,
                    record.id,
                    f"link #{record.sequence} was signed with key '{record.key_id or '(none)'}', which is not in "
                    "PIMLAB_AUDIT_CHAIN_KEYS: keep retired keys in the ring after a rotation",
                ),
            )
        fields = record_fields(record)
        if link_hash(prev_hash=record.prev_hash, fields=fields, key_id=record.key_id, key=key) != record.chain_hash:
            return ChainVerdict(
                shard_alias,
                checked,
                BrokenLink(
                    record.sequence,
                    record.id,
                    f"link #{record.sequence}'s content does not match its hash: the record was altered or forged",
                ),
            )
        prev_hash, expected_sequence, checked = record.chain_hash, expected_sequence + 1, checked + 1
    last_sequence = expected_sequence - 1
    head = AuditChainHead.objects.filter(shard_alias=shard_alias).first()
    if head is not None and (head.last_sequence != last_sequence or (head.last_hash or GENESIS_HASH) != prev_hash):
        return ChainVerdict(
            shard_alias,
            checked,
            BrokenLink(
                last_sequence + 1 if head.last_sequence > last_sequence else head.last_sequence,
                None,
                f"the chain ends at link #{last_sequence} but its head records link #{head.last_sequence}: "
                "the tail was truncated or extended",
            ),
        )
    if check_source and shard_alias in settings.SHARD_ALIASES:
        shipped_up_to = (
            (
                AuditEvent.objects.using(shard_alias)
                .filter(chain_sequence__isnull=False)
                .aggregate(last=Max("chain_sequence"))["last"]
            )
            or 0
        )
        if shipped_up_to > last_sequence:
            return ChainVerdict(
                shard_alias,
                checked,
                BrokenLink(
                    last_sequence + 1,
                    None,
                    f"the shard shipped events up to link #{shipped_up_to} but the store ends at #{last_sequence}: "
                    "links were removed from the tail",
                ),
            )
    return ChainVerdict(shard_alias, checked, None)


AUDIT_CHAIN_RUNBOOK = "docs/runbooks/11_audit-log-degradation.md"


def audit_chains_verify_and_alert() -> list[ChainVerdict]:
    """Verify every chain; a broken one raises a critical alert naming the shard and the position."""
    verdicts = [audit_chain_verify(shard_alias=alias) for alias in audit_chain_shards()]
    for verdict in verdicts:
        if verdict.intact:
            continue
        alert_raise(
            name="AuditChainBroken",
            severity="critical",
            labels={"shard_id": verdict.shard_alias, "position": str(verdict.broken.sequence)},
            annotations={
                "summary": f"Audit chain of {verdict.shard_alias} broken at link #{verdict.broken.sequence}",
                "description": verdict.broken.reason,
                "runbook": AUDIT_CHAIN_RUNBOOK,
            },
        )
    return verdicts
