"""``dief``: the suite's command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from importlib.metadata import version

from services.common.principal import Role
from services.common.settings import get_settings

SERVICES = {"contacts": "services.contacts.app:app", "cases": "services.cases.app:app"}
DEFAULT_PORTS = {"contacts": 8101, "cases": 8103}


def cmd_run(args: argparse.Namespace) -> int:
    from services.dev.stack import run_stack

    return run_stack(get_settings())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.common.logs import configure_logging

    settings = get_settings()
    configure_logging(args.service, settings.log_level)
    uvicorn.run(
        SERVICES[args.service],
        factory=True,
        host=args.host,
        port=args.port or DEFAULT_PORTS[args.service],
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from pymongo.errors import PyMongoError

    from services.dev.tokens import dev_token

    try:
        token = dev_token(
            get_settings(),
            sub=args.sub,
            state=args.state,
            roles=args.role or ["delegate"],
            participant=args.participant,
            ttl_seconds=args.ttl,
        )
    except PyMongoError as exc:
        print(
            f"dief token: cannot ask the registry whether {args.state} is a participant "
            f"({exc}); start the stack or pass --participant/--no-participant",
            file=sys.stderr,
        )
        return 2
    print(token)
    return 0


def cmd_seed_states(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.common import mongo
    from services.contacts import handlers, seed

    settings = get_settings()
    mongo.connect("contacts", settings.mongodb_uri, settings.contacts_db)
    statuses = seed.read_statuses(Path(args.file)) if args.file else {}
    if args.sample:
        statuses = {**seed.read_statuses(seed.SAMPLE), **statuses}
    handlers.ensure_indexes()
    created = handlers.seed_states(statuses)
    print(f"{created} States added to the registry")
    return 0


def cmd_events_docs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.common import asyncapi
    from services.common.settings import Settings
    from services.event_catalogue import load_all

    retention = Settings.model_fields["stream_max_age_days"].default  # the documented default
    text = asyncapi.render(
        asyncapi.document(
            load_all(),
            version=version("dief-exchange"),
            retention_days=retention,
        )
    )
    target = Path(args.output)
    if args.check:
        if not target.exists() or target.read_text() != text:
            print(f"{target} is out of date: run 'dief events docs'", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


def cmd_events_tail(args: argparse.Namespace) -> int:
    import asyncio
    from datetime import datetime

    from services.events_tail import tail

    since = datetime.fromisoformat(args.since.replace("Z", "+00:00")) if args.since else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail(
                get_settings(),
                subject=args.subject,
                since=since,
                from_seq=args.from_seq,
                follow=not args.no_follow,
            )
        )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dief", description="DIEF Exchange command line.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the whole suite locally (what 'make run' does)")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="serve one service")
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="print a dev token signed with the local dev key")
    token.add_argument("--sub", required=True, help="who the caller is")
    token.add_argument("--state", help="ISO 3166-1 alpha-3 code of the caller's State")
    token.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in Role],
        help="a role (repeatable); default delegate",
    )
    token.add_argument(
        "--participant",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="participant flag; default: as the contacts registry says",
    )
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)

    seed = sub.add_parser("seed-states", help="add every ISO 3166-1 country to the registry")
    seed.add_argument(
        "--file", help="CSV of statuses: code,status,signature,ratification,entry_into_force"
    )
    seed.add_argument(
        "--sample", action="store_true", help="also load the illustrative development statuses"
    )
    seed.set_defaults(func=cmd_seed_states)

    events = sub.add_parser("events", help="the event stream").add_subparsers(
        dest="events_command", required=True
    )
    docs = events.add_parser("docs", help="write the AsyncAPI document from the catalogue")
    docs.add_argument("--output", default="docs/asyncapi.yaml")
    docs.add_argument("--check", action="store_true", help="fail if the file is out of date")
    docs.set_defaults(func=cmd_events_docs)
    tail = events.add_parser("tail", help="print events as JSON lines, replaying from JetStream")
    tail.add_argument("--subject", default="dief.>", help="e.g. 'dief.meetings.>'")
    start = tail.add_mutually_exclusive_group()
    start.add_argument("--since", help="ISO 8601 time, e.g. 2026-01-01T00:00:00Z")
    start.add_argument("--from-seq", type=int, help="stream sequence to start from")
    tail.add_argument(
        "--no-follow",
        action="store_true",
        help="stop when caught up instead of waiting for new events",
    )
    tail.set_defaults(func=cmd_events_tail)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
