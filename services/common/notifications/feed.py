"""A caller's own notices (``myNotifications``) and the Secretariat's report of the
notices that some concerned State could not be told (synchronous, mongoengine)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from mongoengine.queryset.visitor import Q

from services.common.errors import Forbidden, NotFound
from services.common.notifications.documents import NoticeDelivery, NoticeEntry
from services.common.principal import Principal, Role, require_authenticated


def _mine(principal: Principal) -> Q:
    """The Secretariat's notices and, for a State's representatives, their State's."""
    mine = Q(pk=None)
    if principal.is_secretariat:
        mine = Q(secretariat=True)
    if principal.represents_state:
        mine = mine | Q(states=principal.state)
    return mine


def my_notices(entry_cls: type[NoticeEntry], principal: Principal | None, unread: bool) -> Any:
    p = require_authenticated(principal)
    query = entry_cls.objects(_mine(p))
    if unread:
        query = query.filter(read_by__ne=p.subject)
    return query.order_by("-issued_at", "-id")


def one(entry_cls: type[NoticeEntry], principal: Principal | None, oid: ObjectId) -> NoticeEntry:
    """One notice: any for the Secretariat and the Chair, else only one's own."""
    p = require_authenticated(principal)
    query = entry_cls.objects(pk=oid)
    if not (p.is_secretariat or p.has_role(Role.CHAIR)):
        query = query.filter(_mine(p))
    found = query.first()
    if found is None:
        raise NotFound("No such notice of yours.", field="id")
    return found


def mark_read(
    entry_cls: type[NoticeEntry], principal: Principal | None, ids: list[ObjectId], read: bool
) -> list[NoticeEntry]:
    """Mark the caller's own notices read (or unread again); another's are not found."""
    p = require_authenticated(principal)
    found = list(entry_cls.objects(_mine(p) & Q(pk__in=ids)))
    if len(found) != len(set(ids)):
        raise NotFound("No such notice of yours.", field="ids")
    for entry in found:
        op = "add_to_set__read_by" if read else "pull__read_by"
        entry_cls.objects(pk=entry.pk).update_one(**{op: p.subject})
        entry.reload()
    return found


def gaps(entry_cls: type[NoticeEntry], principal: Principal | None) -> Any:
    """Every notice some concerned State could not be told of, newest first."""
    p = require_authenticated(principal)
    if not p.is_secretariat:
        raise Forbidden("The report of States without contacts is the Secretariat's.")
    return entry_cls.objects(unreachable__0__exists=True).order_by("-issued_at", "-id")


def deliveries_of(
    delivery_cls: type[NoticeDelivery], principal: Principal | None, notice_id: str
) -> list[NoticeDelivery]:
    p = require_authenticated(principal)
    if not (p.is_secretariat or p.has_role(Role.CHAIR)):
        raise Forbidden("A notice's deliveries are for the Secretariat and the Chair to see.")
    return list(delivery_cls.objects(notice_id=notice_id).order_by("state", "email"))
