"""A durable consumer of DIEF Exchange events, for other ATT systems to copy.

    pip install nats-py
    NATS_URL=nats://127.0.0.1:4222 python examples/consumer.py

It creates (or resumes) a durable pull consumer on the DIEF stream, handles each event and
acknowledges it afterwards. Stopped and restarted, it carries on where it left off; run
several copies with the same durable name and each event goes to one of them.
"""

from __future__ import annotations

import asyncio
import json
import os

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

STREAM = "DIEF"
DURABLE = os.environ.get("DURABLE", "example-att-system")
SUBJECT = os.environ.get("SUBJECT", "dief.>")


async def handle(event: dict) -> None:
    """Your work goes here. Make it idempotent: an event may come twice after a crash."""
    print(event["time"], event["type"], event["subject"], json.dumps(event["data"]))


async def main() -> None:
    nc = await nats.connect(
        os.environ.get("NATS_URL", "nats://127.0.0.1:4222"), max_reconnect_attempts=-1
    )
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        SUBJECT,
        durable=DURABLE,
        stream=STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=30
        ),
    )
    try:
        while True:
            try:
                msgs = await sub.fetch(50, timeout=5)
            except nats.errors.TimeoutError:
                continue
            for msg in msgs:
                await handle(json.loads(msg.data))
                await msg.ack()  # only after the work is done
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
