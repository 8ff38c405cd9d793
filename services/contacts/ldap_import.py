"""One sync run: read a State's national LDAP directory, plan, and apply it all or not at all.

A run is recorded before it starts and completed when it ends, whatever happens. It
applies nothing unless the source was read completely and every entry was accepted;
then every contact written, every history record and every event is committed in one
MongoDB transaction. A dry run plans the same way and writes only its record.

Full runs read every entry and archive the contacts whose entry is gone; incremental runs
read only the entries changed since the last applied run (by ``entryCSN`` where the server
keeps it, else ``modifyTimestamp``) and archive nothing, since they cannot see deletions.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReplaceOne
from pymongo.client_session import ClientSession
from pymongo.errors import DuplicateKeyError

from services.common import catalogue, mongo
from services.common.errors import Conflict
from services.common.events import event
from services.common.ids import to_global_id
from services.common.logs import current_request_id
from services.common.principal import Principal
from services.common.sealed import SealingUnavailable
from services.common.settings import Settings
from services.common.unit_of_work import OUTBOX, outbox_entry
from services.contacts import domain, handlers
from services.contacts.documents import ALIAS, Authority, ChangeRecord, Contact, utcnow
from services.contacts.ldap_hosts import HostRefused, parse_target, pinned_address
from services.contacts.ldap_interrupted import process_owner
from services.contacts.ldap_mapping import (
    MAX_DETAILS,
    SYNCED_FIELDS,
    SourceEntry,
    Synced,
    SyncPlan,
    changed_since_filter,
    checked_entries,
    mapping_with_overrides,
    plan_sync,
    requested_attributes,
    watermark,
)
from services.contacts.ldap_reader import SourceConnection, SourceUnreadable, connect, read_entries
from services.contacts.ldap_sources import (
    LdapSyncRun,
    LdapSyncSource,
    RunDetail,
    open_password,
    source_of,
)

log = logging.getLogger("dief.ldap.sync")

DEFAULT_PAGE_SIZE = 500
LOAD_BY_ID_MAX = 100  # contacts to change read by their ids; more, by their source


# What a delegate is told when their directory cannot be read: what to check, never a
# file, a port, an address or the directory's own error text (those go to the log, with
# the run's request id).
PUBLIC_ERRORS = {
    "UNREACHABLE": "cannot connect to the directory (check the URL and that it accepts "
    "connections from DIEF Exchange)",
    "TLS": "TLS failed with the directory (check its certificate, its host name and the CA "
    "certificates given)",
    "CREDENTIALS": "the directory refused the bind (check the bind DN and the password)",
    "BASE_DN": "the base DN was not found in the directory",
    "LDAP": "the directory refused the search (check the filter and the bind account's rights)",
    "SECRET": "no usable bind password is stored for this source; set it again",
}


class RunFailed(RuntimeError):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def actor(code: str) -> str:
    return f"ldap-sync:{code}"


def last_watermark(code: str) -> tuple[str | None, str | None]:
    """Where an incremental run starts: the newest change the last applied run read."""
    last = (
        LdapSyncRun.objects(state_code=code, status="SUCCEEDED", dry_run=False)
        .order_by("-started_at")
        .only("watermark", "watermark_attribute")
        .first()
    )
    if last is None or not last.watermark:
        return None, None
    return last.watermark_attribute, last.watermark


def start_run(
    principal: Principal | None,
    state_code: str,
    *,
    settings: Settings,
    full: bool,
    dry_run: bool,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout_seconds: float = 10.0,
) -> LdapSyncRun:
    """``ldapSyncRun``: that State's representatives or the Secretariat."""
    code = domain.state_code(state_code)
    p = handlers.manager_of(principal, code)
    source_of(code)  # NOT_FOUND before anything is recorded
    return run_sync(
        code,
        settings=settings,
        full=full,
        dry_run=dry_run,
        started_by=p.subject,
        trigger="API",
        page_size=page_size,
        timeout_seconds=timeout_seconds,
    )


def _failed(run: LdapSyncRun, kind: str, detail: str, public: str | None = None) -> None:
    """The run failed: the delegate reads what to check, the log has the details."""
    run.status, run.error_kind = "FAILED", kind
    run.error = f"{public or PUBLIC_ERRORS.get(kind, detail)} (request id {run.request_id})"
    log.warning(
        "ldap sync run failed",
        extra={
            "state": run.state_code,
            "kind": kind,
            "detail": detail,
            "request_id": run.request_id,
        },
    )


def run_sync(
    code: str,
    *,
    settings: Settings,
    full: bool,
    dry_run: bool,
    started_by: str,
    trigger: str,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout_seconds: float = 10.0,
) -> LdapSyncRun:
    source = source_of(code)
    attribute, since = (None, None) if full else last_watermark(code)
    run = LdapSyncRun(
        state_code=code,
        started_by=started_by,
        trigger=trigger,
        full=since is None,
        dry_run=dry_run,
        started_at=utcnow(),
        status="RUNNING",
        since_attribute=attribute,
        since=since,
        request_id=rid if (rid := current_request_id()) != "-" else uuid.uuid4().hex,
        owner=process_owner(),
    )
    run.save()
    try:
        _run(source, run, settings, page_size, timeout_seconds)
        run.status = "SUCCEEDED"
    except RunFailed as exc:
        run.status, run.error_kind, run.error = "FAILED", exc.kind, exc.message
    except SourceUnreadable as exc:
        _failed(run, exc.kind, exc.message)
    except HostRefused as exc:
        _failed(run, "HOST", str(exc), exc.public)
    except SealingUnavailable as exc:
        _failed(run, "SECRET", str(exc))
    except Conflict as exc:
        run.status, run.error_kind, run.error = "FAILED", "CONFLICT", exc.message
    except DuplicateKeyError:
        run.status, run.error_kind = "FAILED", "CONFLICT"
        run.error = "an address was taken by another contact meanwhile; run the sync again"
    except Exception as exc:  # recorded, then raised: a run never stays RUNNING
        run.status, run.error_kind, run.error = "FAILED", "INTERNAL", type(exc).__name__
        run.finished_at = utcnow()
        run.save()
        raise
    run.finished_at = utcnow()
    run.save()
    log.info(
        "ldap sync run",
        extra={"state": code, "status": run.status, "full": run.full, "dryRun": dry_run},
    )
    return run


def _run(
    source: LdapSyncSource, run: LdapSyncRun, settings: Settings, page_size: int, timeout: float
) -> None:
    authority = Authority.objects(id=source.authority_id).first()
    if authority is None or authority.state_code != source.state_code:
        raise RunFailed("CONFIG", "the source's authority no longer exists")
    mapping = mapping_with_overrides(source.mapping)
    password = open_password(settings, source) if source.bind_dn else None
    address = pinned_address(source.state_code, parse_target(source.url), settings)
    conn = connect(
        SourceConnection(
            url=source.url,
            bind_dn=source.bind_dn,
            password=password,
            start_tls=source.start_tls,
            verify_certificates=(
                source.verify_certificates or not settings.ldap_sync_allow_internal_hosts
            ),
            ca_certificates=source.ca_certificates,
            timeout_seconds=timeout,
            address=address,
        )
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        # A full run compares with every contact the source made, whatever the entries:
        # read them while the directory is read (the database works in its own process;
        # a contact changed meanwhile fails the version check at commit). The addresses in
        # use are read after the directory, as late as they can be.
        known = pool.submit(_synced, source.state_code, None) if run.full else None
        clock = time.perf_counter()
        try:
            found = read_entries(
                conn,
                base_dn=source.base_dn,
                search_filter=changed_since_filter(source.filter, run.since_attribute, run.since),
                scope=source.scope,
                attributes=requested_attributes(mapping),
                page_size=page_size,
            )
        finally:
            conn.unbind()
        run.read_seconds = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()
        run.pages, run.read = found.pages, len(found.entries)
        run.watermark_attribute, run.watermark = watermark(
            found.entries, run.since_attribute, run.since
        )
        keys = None if run.full else [e.key for e in found.entries if e.key]
        synced = known.result() if known is not None else _synced(source.state_code, keys)
        # Entries are checked one by one while the addresses in use are read.
        taken = pool.submit(
            _taken_emails, authority, source.state_code, found.entries, mapping, keys
        )
        checked = checked_entries(found.entries, mapping)
        plan = plan_sync(
            found.entries,
            synced,
            mapping,
            full=run.full,
            taken_emails=taken.result(),
            checked=checked,
        )
    _count(run, plan)
    run.plan_seconds = round(time.perf_counter() - clock, 3)
    if plan.rejected:
        raise RunFailed(
            "REJECTED",
            f"{len(plan.rejected)} of {run.read} entries cannot be taken (see the details); "
            "nothing was applied",
        )
    active = sum(not s.archived for s in synced)
    if run.full and not found.entries and active:
        raise RunFailed(
            "EMPTY",
            f"the source returned no entries; refusing to archive {active} contacts "
            "(check the base DN, the filter and the bind account's rights)",
        )
    if not run.dry_run:
        clock = time.perf_counter()
        _apply(plan, authority, source.state_code)
        run.apply_seconds = round(time.perf_counter() - clock, 3)


def _count(run: LdapSyncRun, plan: SyncPlan) -> None:
    run.added, run.changed = len(plan.added), len(plan.changed)
    run.archived, run.rejected = len(plan.archived), len(plan.rejected)
    run.unchanged = plan.unchanged
    details = plan.details
    run.details = [
        RunDetail(
            action=d.action, dn=d.dn, key=d.key, reason=d.reason, fields=list(d.changed_fields)
        )
        for d in details[:MAX_DETAILS]
    ]
    run.details_truncated = len(details) > MAX_DETAILS


def _synced(code: str, keys: list[str] | None) -> list[Synced]:
    """The contacts this source made: all of them for a full run, else those of ``keys``.
    Read without mongoengine: a full run of a large directory reads thousands."""
    query: dict[str, Any] = {"ldap_source": code}
    if keys is not None:
        query["ldap_key"] = {"$in": keys}
    projection = ["_id", "ldap_key", "archived_at", *SYNCED_FIELDS]
    return [
        Synced(
            id=son["_id"],
            key=son["ldap_key"],
            fields={name: son.get(name) for name in SYNCED_FIELDS},
            archived=son.get("archived_at") is not None,
        )
        for son in mongo.collection(ALIAS, Contact).find(query, projection)
    ]


def _taken_emails(
    authority: Authority,
    code: str,
    entries: list[SourceEntry],
    mapping: dict[str, str | None],
    keys: list[str] | None,
) -> dict[str, str]:
    """Addresses in use at the authority: email -> entry key ("" for a hand-made contact).
    The functional address stays taken while archived (a unique index holds it). For an
    incremental run, only the addresses the entries read could clash with."""
    queries: list[dict[str, Any]] = [{"authority_id": authority.pk}]
    if keys is not None:
        wanted = sorted(
            {
                v.strip().lower()
                for e in entries
                for attribute in (mapping["functional_email"], mapping["personal_email"])
                for v in e.values(attribute)
            }
        )
        queries = [  # one query per index: an $or of the two would scan the collection
            {"authority_id": authority.pk, "functional_email": {"$in": wanted}},
            {"authority_id": authority.pk, "personal_email": {"$in": wanted}},
        ]
    taken: dict[str, str] = {}
    projection = ["functional_email", "personal_email", "archived_at", "ldap_source", "ldap_key"]
    contacts = mongo.collection(ALIAS, Contact)
    found = [son for query in queries for son in contacts.find(query, projection)]
    for son in found:
        key = son.get("ldap_key")
        owner = key if son.get("ldap_source") == code and key else ""
        taken[son["functional_email"]] = owner
        if son.get("personal_email") and son.get("archived_at") is None:
            taken.setdefault(son["personal_email"], owner)
    return taken


# --- applying a plan ---------------------------------------------------------------------


def _event_entry(son: dict[str, Any], action: str) -> dict[str, Any]:
    change = event(
        "contacts",
        "contact",
        "changed",
        subject=to_global_id("Contact", son["_id"]),
        contactId=to_global_id("Contact", son["_id"]),
        authorityId=to_global_id("Authority", son["authority_id"]),
        stateCode=son["state_code"],
        action=action,
    )
    catalogue.validate(change)
    return outbox_entry(change)


def snapshot_son(son: dict[str, Any]) -> dict[str, Any]:
    """``documents.snapshot`` of a contact already in its stored form."""
    return {
        key: (
            value.isoformat()
            if hasattr(value, "isoformat")
            else (str(value) if key.endswith("_id") else value)
        )
        for key, value in son.items()
        if key not in ("_id", "status_history")
    }


def _history(
    son: dict[str, Any], action: str, before: dict[str, Any] | None, who: str, now: datetime
) -> dict[str, Any]:
    return {
        "_id": ObjectId(),
        "entity": "Contact",
        "entity_id": str(son["_id"]),
        "action": action,
        "actor": who,
        "at": now,
        "before": before or {},
        "after": snapshot_son(son),
    }


def new_contact_son(
    entry: SourceEntry,
    fields: dict[str, Any],
    authority: Authority,
    code: str,
    now: datetime,
) -> dict[str, Any]:
    """A new contact as stored, made straight from fields the mapping validated (what
    ``Contact(...).to_mongo()`` gives, without its cost per document)."""
    son: dict[str, Any] = {
        "_id": ObjectId(),
        "authority_id": authority.pk,
        "state_code": code,
        "authority_kind": authority.kind.value,
    }
    for name in ("name", "title", "functional_email", "personal_email", "phone", "mobile"):
        if fields.get(name) is not None:
            son[name] = fields[name]
    son["languages"] = list(fields.get("languages") or [])
    son["roles"] = []
    son["last_verified_at"] = now
    son["verified_by"] = actor(code)
    son["source"] = "LDAP"
    if fields.get("department") is not None:
        son["department"] = fields["department"]
    son.update(ldap_source=code, ldap_key=entry.key, ldap_dn=entry.dn)
    son.update(created_at=now, updated_at=now, version=1)
    return son


def _apply(plan: SyncPlan, authority: Authority, code: str) -> None:
    now = utcnow()
    who = actor(code)
    replaces: list[ReplaceOne[dict[str, Any]]] = []
    history: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []

    def record(contact: Contact, action: str, before: dict[str, Any] | None) -> None:
        son = contact.to_mongo().to_dict()
        history.append(_history(son, action, before, who, now))
        outbox.append(_event_entry(son, action))

    inserts = [new_contact_son(entry, fields, authority, code, now) for entry, fields in plan.added]

    changed_ids = [synced.id for synced, _, _ in plan.changed] + [s.id for s in plan.archived]
    loaded = _load(code, changed_ids)
    for synced, entry, differences in plan.changed:
        contact = loaded[synced.id]
        before = snapshot_son(contact.to_mongo().to_dict())
        for name, value in differences.items():
            setattr(contact, name, value)
        contact.ldap_dn = entry.dn
        contact.archived_at = None
        contact.last_verified_at, contact.verified_by = now, who
        contact.updated_at = now
        replaces.append(_guarded(contact))
        record(contact, "UPDATED", before)
    for synced in plan.archived:
        contact = loaded[synced.id]
        before = snapshot_son(contact.to_mongo().to_dict())
        contact.archived_at = contact.updated_at = now
        replaces.append(_guarded(contact))
        record(contact, "ARCHIVED", before)

    if not (inserts or replaces):
        return
    contacts = mongo.collection(ALIAS, Contact)
    history_collection = mongo.collection(ALIAS, ChangeRecord)
    outbox_collection = mongo.database(ALIAS)[OUTBOX]

    # The history records and events of new contacts are made while the server stores the
    # contacts: the server works in its own process, so this time is otherwise spent waiting.
    # They are written in the same transaction; if making them fails, nothing is written.
    with ThreadPoolExecutor(max_workers=1) as pool:
        created = pool.submit(_created_records, inserts, who, now)

        def write(session: ClientSession) -> None:
            if inserts:
                contacts.insert_many(inserts, ordered=True, session=session)
            if replaces:
                result = contacts.bulk_write(replaces, ordered=True, session=session)
                if result.matched_count != len(replaces):
                    raise Conflict("a synced contact was changed meanwhile; run the sync again")
            created_history, created_events = created.result()
            history_collection.insert_many(created_history + history, session=session)
            outbox_collection.insert_many(created_events + outbox, session=session)

        _transaction(write)


def _load(code: str, ids: list[Any]) -> dict[Any, Contact]:
    """The contacts ``ids`` of the source ``code``, as they are now. Many are read by
    walking the source's contacts rather than by a list of ids: a query listing thousands
    of ids costs some servers time in the square of their number (SecantusDB: 2,000 ids
    took 10 s, against 0.15 s for every contact of the source)."""
    if len(ids) <= LOAD_BY_ID_MAX:
        return {c.pk: c for c in Contact.objects(id__in=ids)}
    wanted = set(ids)
    return {
        son["_id"]: Contact._from_son(son)
        for son in mongo.collection(ALIAS, Contact).find({"ldap_source": code})
        if son["_id"] in wanted
    }


def _created_records(
    inserts: list[dict[str, Any]], who: str, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The history record and outbox entry of each new contact."""
    history = [_history(son, "CREATED", None, who, now) for son in inserts]
    return history, [_event_entry(son, "CREATED") for son in inserts]


IMPORT_TRANSACTION_SECONDS = 60.0  # an import writes thousands of contacts at once


def _transaction(write: Callable[[ClientSession], None]) -> None:
    mongo.transaction(ALIAS, write, seconds=IMPORT_TRANSACTION_SECONDS)


def _guarded(contact: Contact) -> ReplaceOne[dict[str, Any]]:
    expected = contact.version or 0
    contact.version = expected + 1
    contact.validate()
    return ReplaceOne({"_id": contact.pk, "version": expected}, contact.to_mongo())


def summary(run: LdapSyncRun, *, details: bool = False, limit: int = 50) -> str:
    """A run as a few lines of text (``dief ldap sync``)."""
    kind = "full" if run.full else f"incremental since {run.since}"
    head = (
        f"{run.state_code}: {kind} {'dry run' if run.dry_run else 'run'} {run.status}: "
        f"{run.read} read, {run.added} added, {run.changed} changed, {run.archived} archived, "
        f"{run.unchanged} unchanged, {run.rejected} rejected"
    )
    lines = [head]
    if run.error:
        lines.append(f"  error ({run.error_kind}): {run.error}")
    if details:
        for d in run.details[:limit]:
            what = d.reason or ", ".join(d.fields)
            lines.append(f"  {d.action:<8} {d.dn or d.key}{': ' + what if what else ''}")
        if len(run.details) > limit or run.details_truncated:
            lines.append("  ...")
    return "\n".join(lines)
