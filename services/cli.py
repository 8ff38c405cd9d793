"""``dief``: the suite's command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from importlib.metadata import version

from services.common.principal import Role
from services.common.settings import SettingsError, get_settings

SERVICES = {
    "contacts": "services.contacts.app:app",
    "meetings": "services.meetings.app:app",
    "cases": "services.cases.app:app",
}
DEFAULT_PORTS = {"contacts": 8101, "meetings": 8102, "cases": 8103}
SERVICES["gateway"] = "gateway.app:app"
DEFAULT_PORTS["gateway"] = 8100
SERVICES["console"] = "console.app:app"
DEFAULT_PORTS["console"] = 8000


def cmd_run(args: argparse.Namespace) -> int:
    from services.dev.stack import run_stack

    return run_stack(get_settings(), replicas=args.replicas, nats_cluster=args.nats_cluster)


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from services.common import tracing
    from services.common.logs import configure_logging
    from services.common.preflight import check_production

    settings = get_settings()
    check_production(settings, args.service)
    configure_logging(args.service, settings.log_level)
    tracing.configure(args.service, settings)  # off unless an OTLP collector is named
    app = SERVICES[args.service]
    if args.workers > 1:
        # Worker processes are spawned afresh: each sets up its own logging first.
        os.environ[WORKER_SERVICE] = args.service
        app = "services.cli:worker_app"
    uvicorn.run(
        app,
        factory=True,
        host=args.host,
        port=args.port or DEFAULT_PORTS[args.service],
        workers=args.workers if args.workers > 1 else None,
        timeout_worker_healthcheck=60,  # a worker still importing on a busy machine is not hung
        log_config=None,
        access_log=False,
        proxy_headers=True,
        loop="uvloop",  # libuv event loop and the httptools parser: less work per request
        # httptools with read timeouts and a cap on slow connections (slow-loris clients)
        http="services.common.http_guard:GuardedHttpToolsProtocol",
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_concurrency,
        # SIGTERM: after the drain (services.common.draining: unready, still serving) stop
        # accepting, let the requests in flight finish for up to this long, then stop
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    return 0


WORKER_SERVICE = "DIEF_SERVE_WORKER_OF"


def worker_app() -> object:
    """The app of one of ``dief serve --workers N``'s processes (uvicorn's factory)."""
    import os
    from importlib import import_module

    from services.common import tracing
    from services.common.logs import configure_logging

    service = os.environ[WORKER_SERVICE]
    configure_logging(service, get_settings().log_level)
    tracing.configure(service, get_settings())
    module, _, factory = SERVICES[service].partition(":")
    return getattr(import_module(module), factory)()


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
    from services.contacts import handlers, seed, status_import

    settings = get_settings()
    mongo.connect("contacts", settings.mongodb_uri, settings.contacts_db)
    statuses = seed.read_statuses(Path(args.file)) if args.file else {}
    if args.sample:
        statuses = {**seed.read_statuses(seed.SAMPLE), **statuses}
    handlers.ensure_indexes()
    updates = status_import.plan(statuses)
    for update in updates:
        print(("would change " if args.dry_run else "changing ") + update.describe())
    if args.dry_run:
        print(f"dry run: {len(updates)} States would change; nothing was written")
        return 0
    created = handlers.seed_states(statuses)
    print(f"{created} States added to the registry")
    changed = status_import.apply(updates)
    print(f"{changed} States changed (each in its status history, with its event)")
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


def cmd_ldap_publish(args: argparse.Namespace) -> int:
    import asyncio

    from ldap3.core.exceptions import LDAPException

    from services.common import mongo
    from services.contacts import ldap_publish
    from services.contacts.documents import ALIAS

    settings = get_settings()
    try:
        config = ldap_publish.PublishConfig.from_settings(settings)
    except ldap_publish.PublishNotConfigured as exc:
        print(f"dief ldap publish: {exc}", file=sys.stderr)
        return 2
    if not (args.full or args.state):
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(ldap_publish.follow(settings))
        return 0
    mongo.connect(ALIAS, settings.mongodb_uri, settings.contacts_db)
    try:
        if args.full:
            report = ldap_publish.publish_full(config)
        else:
            report = ldap_publish.publish_state(config, args.state.strip().upper())
    except (LDAPException, ldap_publish.EmptyRegistry, ValueError) as exc:
        print(f"dief ldap publish: {exc}", file=sys.stderr)
        return 1
    print(f"{'all participant States' if args.full else args.state.upper()}: {report}")
    return 0


def cmd_ldap_sync(args: argparse.Namespace) -> int:
    import getpass

    from services.common import mongo
    from services.common.errors import DiefError
    from services.contacts import ldap_import
    from services.contacts.documents import ALIAS

    settings = get_settings()
    mongo.connect(ALIAS, settings.mongodb_uri, settings.contacts_db)
    try:
        run = ldap_import.run_sync(
            args.state.strip().upper(),
            settings=settings,
            full=args.full,
            dry_run=args.dry_run,
            started_by=f"cli:{getpass.getuser()}",
            trigger="CLI",
            page_size=settings.ldap_sync_page_size,
            timeout_seconds=settings.ldap_sync_timeout_seconds,
        )
    except DiefError as exc:
        print(f"dief ldap sync: {exc.message}", file=sys.stderr)
        return 2
    print(ldap_import.summary(run, details=args.dry_run or run.status == "FAILED"))
    return 0 if run.status == "SUCCEEDED" else 1


def cmd_compose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gateway import subgraphs

    settings = get_settings()
    try:
        text = (
            subgraphs.supergraph_in_process(settings)
            if args.offline
            else subgraphs.supergraph_from_running(settings)
        )
    except Exception as exc:
        print(f"dief compose: {exc}", file=sys.stderr)
        return 1
    target = Path(args.output)
    if args.check:
        if not target.exists() or target.read_text().rstrip("\n") != text.rstrip("\n"):
            print(f"{target} is out of date: run 'dief compose'", file=sys.stderr)
            return 1
        return 0
    subgraphs.write_supergraph(text, target)
    print(f"wrote {target} ({', '.join(subgraphs.subgraph_names(settings))})")
    return 0


def cmd_keys_generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.common.keys import generate_keys

    try:
        key = generate_keys(Path(args.dir))
    except FileExistsError as exc:
        print(f"dief keys generate: {exc}", file=sys.stderr)
        return 1
    print(f"signing key {key.kid} in {args.dir}/signing-key.pem (the gateway's only)")
    print(f"public keys in {args.dir}/jwks.json (every service's DIEF_PRINCIPAL_JWKS)")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.common.keys import rotate_keys

    try:
        key, kids = rotate_keys(Path(args.dir), keep=args.keep)
    except (FileNotFoundError, ValueError) as exc:
        print(f"dief keys rotate: {exc}", file=sys.stderr)
        return 1
    print(f"new signing key {key.kid}; jwks.json lists {', '.join(kids)}")
    print("publish jwks.json to the services first, then give the gateway signing-key.pem")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dief", description="DIEF Exchange command line.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the whole suite locally (what 'make run' does)")
    run.add_argument(
        "--replicas", type=int, default=1, help="worker processes of each service and the gateway"
    )
    run.add_argument(
        "--nats-cluster",
        type=int,
        default=1,
        choices=[1, 3, 5],
        help="NATS servers on loopback, as a JetStream cluster with the stream at as many replicas",
    )
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="serve one service")
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", type=int, default=1, help="processes sharing the socket (uvicorn workers)"
    )
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

    seed = sub.add_parser(
        "seed-states",
        help="add every ISO 3166-1 country to the registry; with --file, update the "
        "ATT status of States already there",
    )
    seed.add_argument(
        "--file", help="CSV of statuses: code,status,signature,ratification,entry_into_force"
    )
    seed.add_argument(
        "--sample", action="store_true", help="also load the illustrative development statuses"
    )
    seed.add_argument(
        "--dry-run", action="store_true", help="list the status changes; write nothing"
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

    ldap = sub.add_parser("ldap", help="the DIEF directory and LDAP").add_subparsers(
        dest="ldap_command", required=True
    )
    publish = ldap.add_parser(
        "publish",
        help="publish the DIEF directory into OpenLDAP (deploy/openldap)",
        description="Without an option: follow contact events and publish each change "
        "until stopped. With --full or --state: reconcile once and exit.",
    )
    once = publish.add_mutually_exclusive_group()
    once.add_argument(
        "--full",
        action="store_true",
        help="reconcile the whole tree: add, change and remove entries until it matches",
    )
    once.add_argument("--state", help="reconcile one State's part (ISO 3166-1 alpha-3 code)")
    publish.set_defaults(func=cmd_ldap_publish)
    sync = ldap.add_parser(
        "sync",
        help="import a State's national LDAP directory into the DIEF directory",
        description="Incremental (entries changed since the last applied run) unless --full; "
        "the run is recorded either way.",
    )
    sync.add_argument("state", help="ISO 3166-1 alpha-3 code of the State whose source to read")
    sync.add_argument(
        "--full", action="store_true", help="read every entry; archive contacts whose entry is gone"
    )
    sync.add_argument(
        "--dry-run", action="store_true", help="print what would change; change nothing"
    )
    sync.set_defaults(func=cmd_ldap_sync)
    compose = sub.add_parser(
        "compose",
        help="compose gateway/supergraph.graphql from the running subgraphs' _service { sdl }",
    )
    compose.add_argument("--output", default="gateway/supergraph.graphql")
    compose.add_argument(
        "--offline", action="store_true", help="read each subgraph's schema in process instead"
    )
    compose.add_argument("--check", action="store_true", help="fail if the file is out of date")
    compose.set_defaults(func=cmd_compose)

    keys = sub.add_parser(
        "keys", help="the gateway's principal-token signing key and the services' JWKS"
    ).add_subparsers(dest="keys_command", required=True)
    generate = keys.add_parser("generate", help="a first signing key and its JWKS")
    generate.add_argument("--dir", required=True, help="where signing-key.pem and jwks.json go")
    generate.set_defaults(func=cmd_keys_generate)
    rotate = keys.add_parser(
        "rotate", help="a new signing key; the JWKS keeps the previous ones too"
    )
    rotate.add_argument("--dir", required=True, help="the folder 'keys generate' wrote")
    rotate.add_argument(
        "--keep", type=int, default=2, help="public keys the JWKS keeps, the new one included"
    )
    rotate.set_defaults(func=cmd_keys_rotate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # one line naming the setting, never a traceback
        print(f"dief: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
