"""The event bus between the outbox relay and its consumers (projections, shippers, probes).

Redis Streams in the services profile: one stream per event type, consumer groups,
acknowledgements and redelivery of entries left pending by a crashed consumer.
``get_event_bus()`` picks the implementation from ``settings.PIMLAB_EVENTBUS_URL``.
"""

from __future__ import annotations

import json
import threading

import orjson
from django.conf import settings

from .bus_contract import STREAM_PREFIX, BusMessage, EventBus, EventBusUnavailable, dead_letter_record, stream_for
from .embedded_bus import DatabaseEventBus

__all__ = [
    "STREAM_PREFIX",
    "BusMessage",
    "DatabaseEventBus",
    "EventBus",
    "EventBusUnavailable",
    "RedisStreamsEventBus",
    "get_event_bus",
    "reset_event_bus",
    "stream_for",
]


class RedisStreamsEventBus:
    """Redis Streams: XADD in one pipeline per batch, XREADGROUP/XACK, XAUTOCLAIM for redelivery."""

    def __init__(self, url: str, *, stream_maxlen: int | None = None):
        import redis
        from django.conf import settings

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        # Streams are trimmed (approximately, in whole macro-nodes) to a bounded length, so Redis memory
        # stays flat; rebuilds do not depend on the bus keeping everything (runbook 18).
        self.stream_maxlen = stream_maxlen or settings.PIMLAB_EVENTBUS_STREAM_MAXLEN
        # EVALSHA, loaded on first use (and again after a Redis restart).
        self._publish_in_order_script = self.client.register_script(_PUBLISH_IN_ORDER_LUA)
        # (stream, group) pairs this bus has made sure exist: reads skip the XGROUP CREATE round trip
        # (an error reply every time once the group exists). A NOGROUP reply (stream deleted, group
        # destroyed) forgets the pair and creates the group again.
        self._groups_ready: set[tuple[str, str]] = set()

    def publish_batch(self, events: list[dict]) -> list[str]:
        pipeline = self.client.pipeline(transaction=False)
        for event in events:
            pipeline.xadd(
                stream_for(event["event_type"]),
                {"event": json.dumps(event, separators=(",", ":"))},
                maxlen=self.stream_maxlen,
                approximate=True,
            )
        return [message_id.decode() for message_id in pipeline.execute()]

    def publish_each(self, events: list[dict]) -> list[str | Exception]:
        """One pipeline for the batch; a result per event: its message id, or the error for that event.

        Raises ``EventBusUnavailable`` when Redis cannot be reached at all."""
        import redis

        pipeline = self.client.pipeline(transaction=False)
        for event in events:
            pipeline.xadd(
                stream_for(event["event_type"]),
                {"event": json.dumps(event, separators=(",", ":"))},
                maxlen=self.stream_maxlen,
                approximate=True,
            )
        try:
            results = pipeline.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise EventBusUnavailable(f"Redis event bus unreachable: {exc}") from exc
        return [r.decode() if isinstance(r, bytes) else r for r in results]

    def publish_in_order(self, events: list[tuple[str, str, str]]) -> list[str | Exception | None]:
        """Publish encoded envelopes in list order in one round trip (a server-side script), keeping
        each key's order.

        ``events``: (event type, ordering key — the aggregate, envelope as JSON text). An event that
        Redis rejects stops its key: the later events with that key are not sent. A result per event:
        its message id, the error for that event, or ``None`` when it was held back. Raises
        ``EventBusUnavailable`` when Redis cannot be reached at all (then nothing is known to be sent).
        """
        import redis

        if not events:
            return []
        # One packed argument instead of three per event: encoding thousands of small arguments cost
        # the client more than the whole script costs Redis.
        streams: dict[str, int] = {}
        lines: list[str] = []
        keys: list[str] = []
        for event_type, key, envelope in events:
            stream_number = streams.setdefault(stream_for(event_type), len(streams) + 1)
            lines.append(f"{stream_number} {key} {envelope}")
            keys.append(key)
        packed = "\n".join(lines)
        if packed.count("\n") != len(lines) - 1 or any(" " in key for key in keys):
            raise ValueError("an ordering key holds a space or an envelope a line break")
        try:
            replies = self._publish_in_order_script(keys=list(streams), args=[self.stream_maxlen, packed])
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise EventBusUnavailable(f"Redis event bus unreachable: {exc}") from exc
        except redis.ResponseError as exc:
            # The script as a whole was refused (e.g. OOM before its first write): nothing was sent,
            # so the first event of each key carries the error and the later ones are held back.
            first_seen: set[str] = set()
            results: list[str | Exception | None] = []
            for key in keys:
                results.append(None if key in first_seen else exc)
                first_seen.add(key)
            return results
        return [_script_result(reply) for reply in _text(replies).split("\n")]

    def ensure_group(self, stream: str, group: str) -> None:
        import redis

        try:
            self.client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups_ready.add((stream, group))

    def _with_groups(self, streams, group: str, command):
        """Run ``command`` once the group exists on every stream; again once if Redis says it does not."""
        import redis

        for stream in streams:
            if (stream, group) not in self._groups_ready:
                self.ensure_group(stream, group)
        try:
            return command()
        except redis.ResponseError as exc:
            if not str(exc).startswith("NOGROUP"):
                raise
        for stream in streams:
            self._groups_ready.discard((stream, group))
            self.ensure_group(stream, group)
        return command()

    def read_group(self, *, group, consumer, streams, count=100, block_ms=None) -> list[BusMessage]:
        response = self._with_groups(
            streams,
            group,
            lambda: self.client.xreadgroup(group, consumer, {s: ">" for s in streams}, count=count, block=block_ms),
        )
        messages = []
        for stream, entries in response or []:
            name = stream.decode()
            messages += [_message(name, message_id, fields) for message_id, fields in entries if fields]
        return messages

    def ack(self, stream, group, message_ids) -> int:
        return self.client.xack(stream, group, *message_ids) if message_ids else 0

    def claim_stale(self, *, stream, group, consumer, min_idle_ms, count=100) -> list[BusMessage]:
        _next, entries, *_deleted = self._with_groups(
            [stream],
            group,
            lambda: self.client.xautoclaim(
                stream, group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
            ),
        )
        entries = [(message_id, fields) for message_id, fields in entries if fields]
        deliveries = self.delivery_counts(stream, group, [message_id for message_id, _ in entries])
        return [
            _message(stream, message_id, fields, delivery_count=deliveries.get(_text(message_id), 2))
            for message_id, fields in entries
        ]

    def delivery_counts(self, stream: str, group: str, message_ids: list) -> dict[str, int]:
        """How often each pending entry was delivered (XPENDING's times_delivered, XAUTOCLAIM included)."""
        if not message_ids:
            return {}
        ids = sorted((_text(message_id) for message_id in message_ids), key=_stream_id_order)
        pending = self.client.xpending_range(stream, group, min=ids[0], max=ids[-1], count=max(len(ids), 1) * 2)
        wanted = set(ids)
        counts = {}
        for row in pending:
            message_id = _text(row["message_id"])
            if message_id in wanted:
                counts[message_id] = int(row["times_delivered"])
        return counts

    def dead_letter(self, *, dead_letter_stream: str, message: BusMessage, error: str) -> str:
        record = dead_letter_record(message, error)
        fields = {key: str(value) for key, value in record.items()}
        fields["event"] = json.dumps(message.event, default=str)
        return _text(self.client.xadd(dead_letter_stream, fields, maxlen=self.stream_maxlen, approximate=True))

    def pending_count(self, stream, group) -> int:
        import redis

        try:
            return int(self.client.xpending(stream, group)["pending"])
        except redis.ResponseError:
            return 0

    def read_range(self, stream, *, after_id="0", count=1000) -> list[BusMessage]:
        start = "-" if after_id in ("0", "-") else f"({after_id}"
        return [
            _message(stream, message_id, fields)
            for message_id, fields in self.client.xrange(stream, min=start, count=count)
        ]

    def ping(self) -> bool:
        return bool(self.client.ping())


# KEYS: the streams of the batch; ARGV[1]: MAXLEN (approximate); ARGV[2]: one line per event, in order:
# "<stream number in KEYS> <ordering key> <encoded envelope>" (JSON text holds no raw line break).
# The reply has one line per event (one string to parse, not an array): the message id, "!" and the
# error, or "" when held back (neither ids nor Redis error messages hold a line break).
_PUBLISH_IN_ORDER_LUA = """
local maxlen = ARGV[1]
local packed = ARGV[2]
local failed = {}
local replies = {}
local position = 1
local length = #packed
while position <= length do
    local after_stream = string.find(packed, ' ', position, true)
    local after_key = string.find(packed, ' ', after_stream + 1, true)
    local line_end = string.find(packed, '\\n', after_key + 1, true) or (length + 1)
    local stream = KEYS[tonumber(string.sub(packed, position, after_stream - 1))]
    local key = string.sub(packed, after_stream + 1, after_key - 1)
    if failed[key] then
        replies[#replies + 1] = ''
    else
        local envelope = string.sub(packed, after_key + 1, line_end - 1)
        local reply = redis.pcall('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', envelope)
        if type(reply) == 'table' and reply.err then
            failed[key] = true
            replies[#replies + 1] = '!' .. reply.err
        else
            replies[#replies + 1] = reply
        end
    end
    position = line_end + 1
end
return table.concat(replies, '\\n')
"""


def _script_result(reply: str) -> str | Exception | None:
    if not reply:
        return None
    if reply.startswith("!"):
        import redis

        return redis.ResponseError(reply[1:])
    return reply


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _stream_id_order(message_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = message_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def _message(stream: str, message_id, fields, delivery_count: int = 1) -> BusMessage:
    raw = fields.get(b"event") or fields.get("event")
    return BusMessage(
        stream=stream if isinstance(stream, str) else stream.decode(),
        message_id=message_id.decode() if isinstance(message_id, bytes) else message_id,
        event=_envelope_decode(raw),
        delivery_count=delivery_count,
    )


def _envelope_decode(raw):
    # orjson parses an envelope several times faster; what it refuses (NaN, integers beyond 64 bits)
    # the standard library still reads, so both accept the same envelopes.
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


_bus: EventBus | None = None
_bus_lock = threading.Lock()


def get_event_bus() -> EventBus:
    global _bus
    with _bus_lock:
        if _bus is None:
            url = settings.PIMLAB_EVENTBUS_URL
            if url.startswith(("redis://", "rediss://", "unix://")):
                _bus = RedisStreamsEventBus(url)
            else:
                _bus = DatabaseEventBus()
        return _bus


def reset_event_bus() -> None:
    global _bus
    with _bus_lock:
        _bus = None
