"""Data kept in memory per process (``services.common.hot_data``): read without a round
trip, fresh at once after the process's own writes, and within ``hot_data_check_seconds``
after a change another process made (a replica that missed the event)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import mongoengine
import pytest
from pymongo import MongoClient

from services.common import hot_data, mongo
from services.common.participants import KnownParticipantStatus, ParticipantRegister, StatusChange
from services.common.principal import Principal
from services.common.settings import Settings
from services.contacts import handlers, registry
from services.contacts.domain import AttStatus, StatusDates
from services.dev.servers import ServerProcess, free_port, mongodb_uri
from tests.command_counts import commands
from tests.conftest import GraphQLClient, TokenFactory, error_codes
from tests.private_nats import private_nats  # noqa: F401 - the fixture

REPO = Path(__file__).resolve().parent.parent
PARTIES = {
    "FRA": (AttStatus.STATE_PARTY, StatusDates(ratification=date(2014, 4, 2))),
    "DEU": (AttStatus.STATE_PARTY, StatusDates(ratification=date(2014, 4, 2))),
}
CHECK_SECONDS = 0.2
WAIT_SECONDS = 60.0  # generous: two busy cores; the bound itself is CHECK_SECONDS

STATE = '{ state(code: "FRA") { code status participant } }'
STATES = "{ states(first: 3) { edges { node { code status } } } }"
WITHDRAW = """mutation {
  stateStatusChange(input: {code: "FRA", status: NON_PARTY, withdrawalDate: "2026-01-01"}) {
    state { status participant }
  }
}"""

# Another process of the contacts service: the same handler, its own memory, its own
# connection. It writes the change, the history, the outbox entry and the version.
OTHER_REPLICA = """
import sys
from datetime import date
from services.common import mongo
from services.common.principal import Principal, Role
from services.contacts import handlers
from services.contacts.domain import AttStatus, StatusDates
mongo.connect("contacts", sys.argv[1], sys.argv[2])
secretariat = Principal(subject="sec-replica-2", roles=frozenset({Role.SECRETARIAT}))
handlers.change_state_status(secretariat, handlers.StatusChangeInput(
    code="FRA", status=AttStatus.NON_PARTY, dates=StatusDates(withdrawal=date(2026, 1, 1))))
"""


def _other_replica_withdraws_france(settings: Settings) -> None:
    subprocess.run(
        [sys.executable, "-c", OTHER_REPLICA, settings.mongodb_uri, settings.contacts_db],
        cwd=REPO,
        check=True,
        timeout=120,
    )


async def _poll(read: Any, until: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = await read()
        if until(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


@pytest.fixture
def fast_settings(settings: Settings, private_nats: str) -> Settings:  # noqa: F811
    update = {"hot_data_check_seconds": CHECK_SECONDS, "nats_url": private_nats}
    return settings.model_copy(update=update)


@pytest.fixture
async def contacts(fast_settings: Settings, clean_databases: None) -> AsyncIterator[GraphQLClient]:
    from services.contacts.app import build

    app = build(fast_settings)
    async with app.router.lifespan_context(app):
        handlers.seed_states(PARTIES)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as http:
            yield GraphQLClient(http)
    mongoengine.disconnect_all()


async def test_the_registry_is_read_from_memory_and_a_status_change_shows_at_once(
    contacts: GraphQLClient, token: TokenFactory, settings: Settings
) -> None:
    delegate = token(state="FRA")
    secretariat = token(sub="sec", roles=("secretariat",), participant=False)
    assert "errors" not in await contacts(STATES, token=delegate)  # loaded once
    with commands() as seen:
        listed = await contacts(STATES, token=delegate)
        one = await contacts(STATE, token=delegate)
    # caller check and pages: no round trip (the version check runs on its own clock)
    assert seen.of(settings.contacts_db, besides=("versions",)) == [], [
        (c.get("find"), c.get("filter")) for c in seen.commands_of(settings.contacts_db)
    ]
    assert [e["node"]["code"] for e in listed["data"]["states"]["edges"]] == ["ABW", "AFG", "AGO"]
    assert one["data"]["state"]["participant"] is True

    done = await contacts(WITHDRAW, token=secretariat)
    assert done["data"]["stateStatusChange"]["state"]["participant"] is False, done
    # the same process, the very next request: France is no participant any more
    assert (await contacts(STATE, token=secretariat))["data"]["state"]["status"] == "NON_PARTY"
    assert error_codes(await contacts(STATES, token=delegate)) == ["FORBIDDEN"]


async def test_registry_reads_skip_the_thread_pool_while_the_registry_is_in_memory(
    contacts: GraphQLClient, token: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of States read from memory runs on the event loop; once the copy is dropped
    the read (which goes to the database) runs in the thread pool, and answers the same."""
    import threading

    delegate = token(state="FRA")
    threads: list[int] = []
    real = handlers.list_states

    def noted(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(handlers, "list_states", noted)
    first = await contacts(STATES, token=delegate)  # loads the registry if it is not yet
    assert registry.STATES.loaded
    warm = await contacts(STATES, token=delegate)
    registry.STATES.invalidate()
    cold = await contacts(STATES, token=delegate)
    assert first == warm == cold and "errors" not in warm
    loop_thread = threading.get_ident()  # the test and the ASGI app share one event loop
    assert threads[1] == loop_thread and threads[2] != loop_thread


@pytest.fixture
async def deaf_contacts(
    fast_settings: Settings, clean_databases: None
) -> AsyncIterator[GraphQLClient]:
    """A contacts process that hears no events (its NATS is not there): only the version
    check can tell it what other processes changed."""
    from services.contacts.app import build

    deaf = fast_settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{free_port()}"})
    app = build(deaf)
    async with app.router.lifespan_context(app):
        handlers.seed_states(PARTIES)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as http:
            yield GraphQLClient(http)
    mongoengine.disconnect_all()


async def test_another_replicas_change_is_seen_within_the_check_interval(
    deaf_contacts: GraphQLClient, token: TokenFactory, settings: Settings
) -> None:
    delegate = token(state="FRA")
    secretariat = token(sub="sec", roles=("secretariat",), participant=False)
    assert "errors" not in await deaf_contacts(STATES, token=delegate)
    loads = registry.STATES.loads
    await asyncio.to_thread(_other_replica_withdraws_france, settings)

    async def status() -> str:
        return (await deaf_contacts(STATE, token=secretariat))["data"]["state"]["status"]

    assert await _poll(status, lambda s: s == "NON_PARTY") == "NON_PARTY"
    assert registry.STATES.loads == loads + 1  # the version check dropped the copy, once
    assert error_codes(await deaf_contacts(STATES, token=delegate)) == ["FORBIDDEN"]


# --- the mechanism itself, and the register of participants every service keeps ----------


class RegisterEntry(KnownParticipantStatus):
    meta = {"db_alias": "hot_data_test", "collection": "participants"}


REGISTER = ParticipantRegister(RegisterEntry, durable="hot-data-test")
ALIAS = "hot_data_test"
DATABASE = "test_hot_data"


@pytest.fixture
def database(mongodb: ServerProcess) -> Iterator[MongoClient[dict[str, Any]]]:
    uri = mongodb_uri(mongodb.port)
    raw: MongoClient[dict[str, Any]] = MongoClient(uri)
    raw.drop_database(DATABASE)
    mongo.connect(ALIAS, uri, DATABASE)
    yield raw
    mongoengine.disconnect(ALIAS)
    raw.drop_database(DATABASE)
    raw.close()


def _change(code: str, participant: bool, day: int) -> StatusChange:
    from datetime import UTC, datetime

    return StatusChange(code, participant, datetime(2026, 1, day, tzinfo=UTC), day)


def test_the_register_is_read_once_and_dropped_by_its_own_records(
    database: MongoClient[dict[str, Any]],
) -> None:
    REGISTER.record(_change("FRA", True, 1))
    fra = Principal(subject="a", roles=frozenset(), state="FRA", participant=True)
    assert REGISTER.effective_participant(fra) is True
    with commands() as seen:
        for _ in range(5):
            assert REGISTER.effective_participant(fra) is True
    assert seen.of(DATABASE) == []
    REGISTER.record(_change("FRA", False, 2))  # this process hears the event: at once
    assert REGISTER.effective_participant(fra) is False


def test_a_record_made_elsewhere_is_seen_after_the_version_check(
    database: MongoClient[dict[str, Any]],
) -> None:
    REGISTER.record(_change("DEU", True, 1))
    deu = Principal(subject="b", roles=frozenset(), state="DEU", participant=True)
    assert REGISTER.effective_participant(deu) is True
    # another replica's consumer records the withdrawal: the entry and the version
    database[DATABASE]["participants"].replace_one(
        {"_id": "DEU"},
        {"_id": "DEU", "participant": False, "changed_at": _change("DEU", False, 2).changed_at},
    )
    hot_data.bump_version(ALIAS, "participants")
    assert REGISTER.effective_participant(deu) is True  # the old copy, until the check
    with commands() as seen:
        hot_data.check_all(ALIAS)
    assert seen.of(DATABASE) == ["find"]  # the check is one read of the version
    assert REGISTER.effective_participant(deu) is False
    with commands() as seen:
        assert hot_data.check_all(ALIAS) is None
    assert seen.of(DATABASE) == ["find"]
    assert REGISTER.cache.check() is False  # nothing moved: the copy stays


def test_a_load_overtaken_by_a_change_is_not_kept(
    database: MongoClient[dict[str, Any]],
) -> None:
    calls: list[int] = []

    def load() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            cache.invalidate()  # a write lands while the first load is reading
        return {"n": len(calls)}

    cache: hot_data.HotData[dict[str, int]] = hot_data.HotData(ALIAS, "overtaken", load)
    assert cache.get() == {"n": 1}  # its caller gets what it read...
    assert cache.get() == {"n": 2}  # ...but the next read loads again
    assert cache.get() == {"n": 2}
