"""A write to the directory costs the same at 10 contacts as at 5,000: the same MongoDB
commands, and the same number of documents examined (the server's own explain)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import mongoengine
import pytest
from bson import ObjectId
from pymongo import MongoClient

from services.common import mongo
from services.common.errors import Conflict
from services.common.principal import Principal, Role
from services.contacts import handlers
from services.contacts.documents import ALIAS, Authority, Contact
from services.contacts.domain import AttStatus, AuthorityKind, StatusDates
from services.dev.servers import ServerProcess, mongodb_uri
from tests.command_counts import commands

DATABASE = "test_contacts_write_cost"
MANAGER = Principal(
    subject="fra-manager", roles=frozenset({Role.DELEGATE}), state="FRA", participant=True
)


@pytest.fixture(scope="module")
def client(mongodb: ServerProcess) -> Iterator[MongoClient[dict[str, Any]]]:
    uri = mongodb_uri(mongodb.port)
    raw: MongoClient[dict[str, Any]] = MongoClient(uri)
    raw.drop_database(DATABASE)
    mongo.connect(ALIAS, uri, DATABASE)
    handlers.ensure_indexes()
    handlers.seed_states(
        {"FRA": (AttStatus.STATE_PARTY, StatusDates(ratification=date(2014, 4, 2)))}
    )
    yield raw
    mongoengine.disconnect(ALIAS)
    raw.drop_database(DATABASE)
    raw.close()


def _authority_with(client: MongoClient[dict[str, Any]], contacts: int) -> ObjectId:
    """An authority of France with ``contacts`` contacts, bulk-inserted as stored."""
    authority = Authority(
        pk=ObjectId(), state_code="FRA", kind=AuthorityKind.CUSTOMS, name=f"Douane {contacts}"
    )
    authority.validate()
    client[DATABASE]["authorities"].insert_one(authority.to_mongo())
    docs = []
    for i in range(contacts):
        contact = Contact(
            authority_id=authority.pk,
            state_code="FRA",
            authority_kind=AuthorityKind.CUSTOMS,
            name=f"Agent {i:05d}",
            functional_email=f"agent{i}@douane.example",
            personal_email=f"a{i}@perso.example" if i % 2 else None,
        )
        contact.validate()
        docs.append(contact.to_mongo())
    for start in range(0, len(docs), 1000):
        client[DATABASE]["contacts"].insert_many(docs[start : start + 1000], ordered=False)
    return authority.pk


def _cost(client: MongoClient[dict[str, Any]], write: Any) -> tuple[list[str], int, Any]:
    with commands() as seen:
        result = write()
    return seen.of(DATABASE), seen.docs_examined(client, DATABASE), result


def test_create_update_and_verify_cost_the_same_at_10_and_5000_contacts(
    client: MongoClient[dict[str, Any]],
) -> None:
    costs: dict[int, list[tuple[list[str], int]]] = {}
    for size in (10, 5000):
        authority_id = _authority_with(client, size)
        handlers.create_contact(  # warm: the registry is read into memory once
            MANAGER, authority_id, {"name": "Warm", "functional_email": f"warm{size}@x.example"}
        )
        created_cmds, created_docs, created = _cost(
            client,
            lambda aid=authority_id, n=size: handlers.create_contact(
                MANAGER,
                aid,
                {
                    "name": "Claire Martin",
                    "functional_email": f"new{n}@douane.example",
                    "personal_email": f"claire{n}@perso.example",
                },
            ),
        )
        updated_cmds, updated_docs, _ = _cost(
            client,
            lambda c=created: handlers.update_contact(MANAGER, c.pk, {"title": "Inspectrice"}),
        )
        verified_cmds, verified_docs, _ = _cost(
            client, lambda c=created: handlers.verify_contact(MANAGER, c.pk)
        )
        costs[size] = [
            (created_cmds, created_docs),
            (updated_cmds, updated_docs),
            (verified_cmds, verified_docs),
        ]
    assert costs[10] == costs[5000]
    (create_cmds, create_docs), _, _ = costs[5000]
    # the authority, the two e-mail lookups, then one transaction (committed on the admin
    # database): the contact, its history entry, the outbox entry
    assert create_cmds == ["find"] * 3 + ["insert"] * 3
    assert create_docs <= 3  # the authority and at most one contact per lookup


def test_a_taken_address_is_still_refused_whichever_field_holds_it(
    client: MongoClient[dict[str, Any]],
) -> None:
    authority_id = _authority_with(client, 20)
    # agent3 has the personal address a3@perso.example (odd contacts have one)
    for fields in (
        {"name": "Dup", "functional_email": "agent7@douane.example"},
        {"name": "Dup", "functional_email": "a3@perso.example"},
        {
            "name": "Dup",
            "functional_email": "fresh@x.example",
            "personal_email": "agent4@douane.example",
        },
        {
            "name": "Dup",
            "functional_email": "fresh2@x.example",
            "personal_email": "a5@perso.example",
        },
    ):
        with pytest.raises(Conflict):
            handlers.create_contact(MANAGER, authority_id, fields)
    # archived contacts give their addresses back (personal ones; the functional address
    # stays unique in the index)
    holder = Contact.objects(authority_id=authority_id, personal_email="a9@perso.example").get()
    handlers.archive_contact(MANAGER, holder.pk)
    made = handlers.create_contact(
        MANAGER,
        authority_id,
        {
            "name": "Reuse",
            "functional_email": "reuse@x.example",
            "personal_email": "a9@perso.example",
        },
    )
    assert made.personal_email == "a9@perso.example"
    # a contact keeps its own addresses when it changes something else
    handlers.update_contact(MANAGER, made.pk, {"title": "Chef"})
