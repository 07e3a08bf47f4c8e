"""Events that cannot be lost: envelope, transactional outbox, relay, consumers, dead letters.

See architecture.md "Events". In short: a state change and its event row commit in one
transaction (:func:`emit`); the worker's :class:`OutboxRelay` publishes rows to JetStream with
``Nats-Msg-Id`` = event id and marks them sent; consumers (:class:`ConsumerRunner`) pull from
durable consumers, record ``(consumer, event id)`` in the inbox in the handler's own transaction,
ack after commit, retry with backoff and dead-letter what keeps failing.
"""

from gongkai_shared.events.consumer import ConsumerRunner, Handler
from gongkai_shared.events.envelope import Envelope, new_envelope
from gongkai_shared.events.outbox import emit
from gongkai_shared.events.relay import OutboxRelay
from gongkai_shared.events.streams import Namespace, ensure_stream
from gongkai_shared.events.tables import EventTables, define_event_tables

__all__ = [
    "ConsumerRunner",
    "Envelope",
    "EventTables",
    "Handler",
    "Namespace",
    "OutboxRelay",
    "define_event_tables",
    "emit",
    "ensure_stream",
    "new_envelope",
]
