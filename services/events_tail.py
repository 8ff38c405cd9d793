"""``dief events tail``: replay the DIEF stream from a point and print events as JSON lines."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TextIO

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.common.settings import Settings


def consumer_config(subject: str, since: datetime | None, from_seq: int | None) -> ConsumerConfig:
    """An ephemeral, ack-less consumer starting where asked (default: the beginning)."""
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE, filter_subject=subject, inactive_threshold=30.0
    )
    if from_seq is not None:
        config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = from_seq
    elif since is not None:
        config.deliver_policy = DeliverPolicy.BY_START_TIME
        config.opt_start_time = since.isoformat().replace("+00:00", "Z")
    else:
        config.deliver_policy = DeliverPolicy.ALL
    return config


async def tail(
    settings: Settings,
    *,
    subject: str = "dief.>",
    since: datetime | None = None,
    from_seq: int | None = None,
    follow: bool = True,
    out: TextIO = sys.stdout,
) -> int:
    """Print each event (its CloudEvents envelope plus ``streamsequence``); return how many."""
    nc = await nats.connect(
        settings.nats_url, name="dief-events-tail", connect_timeout=3, max_reconnect_attempts=3
    )
    printed = 0
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            subject,
            stream=settings.stream_name,
            config=consumer_config(subject, since, from_seq),
        )
        while True:
            try:
                msgs = await sub.fetch(256, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                # Without --follow, stop only once the stream has nothing left for us: a
                # slow server is not the end of the stream.
                if follow or (await sub.consumer_info()).num_pending > 0:
                    continue
                break
            for msg in msgs:
                try:
                    envelope = json.loads(msg.data)
                except ValueError:
                    envelope = {"undecodable": msg.data.decode(errors="replace")}
                envelope["streamsequence"] = msg.metadata.sequence.stream
                out.write(json.dumps(envelope, sort_keys=True) + "\n")
                out.flush()
                printed += 1
    finally:
        await nc.close()
    return printed
