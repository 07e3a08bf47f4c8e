"""JetStream streams: one per producer, file storage, limits retention, an explicit duplicate window.

``Namespace`` prefixes every subject and stream name when ``GK_EVENT_NAMESPACE`` is set, so test
runs (or two deployments) can share one NATS server without seeing each other's events. The
event's ``type`` in the envelope never carries the namespace: it is the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

__all__ = ["DEADLETTER", "PRODUCERS", "Namespace", "ensure_stream"]

#: Every producer of events; its stream takes ``<producer>.>``.
PRODUCERS = ("catalog", "requests", "interpretation", "sentiment", "gateway")
#: Dead letters: ``deadletter.<consumer>``.
DEADLETTER = "deadletter"


@dataclass(frozen=True)
class Namespace:
    prefix: str = ""

    def subject(self, subject: str) -> str:
        return f"{self.prefix}.{subject}" if self.prefix else subject

    def strip(self, subject: str) -> str:
        if self.prefix and subject.startswith(self.prefix + "."):
            return subject[len(self.prefix) + 1 :]
        return subject

    def stream(self, producer: str) -> str:
        name = producer.upper()
        return f"{self.prefix.upper().replace('.', '_')}_{name}" if self.prefix else name

    def durable(self, name: str) -> str:
        return name  # durables live inside namespaced streams already


async def ensure_stream(
    js: JetStreamContext,
    ns: Namespace,
    producer: str,
    *,
    duplicate_window: float = 600.0,
    max_age: float = 0,
    max_bytes: int = -1,
) -> str:
    """Create or update the stream of ``producer`` (idempotent; safe from several processes)."""
    name = ns.stream(producer)
    config = StreamConfig(
        name=name,
        subjects=[ns.subject(f"{producer}.>")],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=duplicate_window,
        max_age=max_age,
        max_bytes=max_bytes,
    )
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError as exc:
        # 10058: a stream with that name exists with another config → bring it up to date.
        if exc.err_code == 10058:
            await js.update_stream(config)
        else:
            raise
    return name
