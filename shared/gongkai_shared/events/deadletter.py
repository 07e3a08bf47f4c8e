"""Dead letters: list them, and replay them to the consumers that gave up.

Run as ``python -m gongkai_shared.events.deadletter list|replay [--consumer NAME] [--seq N ...]``
with ``NATS_URL`` (and ``GK_EVENT_NAMESPACE``) of the deployment.

Replay publishes the original event again on its original subject with a fresh ``Nats-Msg-Id``
(the stream would drop the old one as a duplicate), then deletes the dead letter. Every consumer
of that subject sees it again; those that had handled it skip it through their inbox, the one that
had given up handles it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass

import nats
import nats.js.errors
from nats.js import JetStreamContext

from gongkai_shared.events.streams import DEADLETTER, Namespace

__all__ = ["DeadLetter", "list_dead_letters", "replay_dead_letters"]


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    consumer: str
    subject: str
    deliveries: int
    error: str
    event_id: str | None
    data: bytes


async def list_dead_letters(js: JetStreamContext, ns: Namespace, *, consumer: str | None = None) -> list[DeadLetter]:
    # Read only: creating the stream here (ensure_stream) would also rewrite its configuration
    # (duplicate window) to this function's defaults behind the workers' back.
    stream = ns.stream(DEADLETTER)
    out: list[DeadLetter] = []
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return out  # no consumer has run yet: nothing was ever dead-lettered
    if info.state.messages == 0:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await js.get_msg(stream, seq)
        except nats.js.errors.NotFoundError:
            continue  # deleted (replayed)
        headers = raw.headers or {}
        name = headers.get("Gk-Consumer", "")
        if consumer is not None and name != consumer:
            continue
        try:
            event_id = json.loads(raw.data).get("id")
        except (ValueError, AttributeError):
            event_id = None
        out.append(
            DeadLetter(
                seq=seq,
                consumer=name,
                subject=headers.get("Gk-Subject", ""),
                deliveries=int(headers.get("Gk-Deliveries", "0") or 0),
                error=json.loads(headers.get("Gk-Error", '""')),
                event_id=event_id,
                data=raw.data or b"",
            )
        )
    return out


async def replay_dead_letters(
    js: JetStreamContext, ns: Namespace, *, consumer: str | None = None, seqs: set[int] | None = None
) -> list[DeadLetter]:
    """Republish the chosen dead letters on their original subjects; return those replayed."""
    stream = ns.stream(DEADLETTER)
    replayed = []
    for letter in await list_dead_letters(js, ns, consumer=consumer):
        if seqs is not None and letter.seq not in seqs:
            continue
        msg_id = f"{letter.event_id or 'seq'}:replay:{letter.seq}"
        await js.publish(ns.subject(letter.subject), letter.data, headers={"Nats-Msg-Id": msg_id})
        await js.delete_msg(stream, letter.seq)
        replayed.append(letter)
    return replayed


async def _main(argv: list[str]) -> int:
    from gongkai_shared.settings import CommonSettings

    parser = argparse.ArgumentParser(prog="python -m gongkai_shared.events.deadletter")
    parser.add_argument("action", choices=["list", "replay"])
    parser.add_argument("--consumer", help="only this durable consumer's letters")
    parser.add_argument("--seq", type=int, action="append", help="only this dead-letter sequence (repeatable)")
    args = parser.parse_args(argv)
    common = CommonSettings()
    nc = await nats.connect(common.nats_url)
    try:
        js = nc.jetstream()
        ns = Namespace(common.event_namespace)
        if args.action == "list":
            for d in await list_dead_letters(js, ns, consumer=args.consumer):
                print(
                    json.dumps(
                        {
                            "seq": d.seq,
                            "consumer": d.consumer,
                            "subject": d.subject,
                            "event_id": d.event_id,
                            "deliveries": d.deliveries,
                            "error": d.error,
                        },
                        ensure_ascii=False,
                    )
                )
        else:
            done = await replay_dead_letters(js, ns, consumer=args.consumer, seqs=set(args.seq) if args.seq else None)
            print(f"replayed {len(done)} dead letter(s)")
    finally:
        await nc.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
