"""How notices are stored: abstract documents each service subclasses with its own
database alias and collection (``meta``), as ``participants.KnownParticipantStatus``."""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    IntField,
    ListField,
    StringField,
)

STATUSES = ("PENDING", "SENT", "FAILED")


class NoticeDelivery(Document):
    """One notice to one address: what is sent, to whom by which role, and how it went.

    The message is stored as rendered at issue (``body`` may be shown to anyone it is
    addressed to; ``private_body`` only ever leaves encrypted to ``public_key``)."""

    meta = {"abstract": True}

    kind = StringField(required=True, default="INVITATION")
    topic = StringField()  # the global ID of what the notice is about
    notice_id = StringField()  # the feed entry it belongs to
    state = StringField(required=True)
    email = StringField(required=True)
    role = StringField()
    subject = StringField()
    body = StringField()
    private_body = StringField()
    attachments = ListField(DictField())  # {filename, maintype, subtype, content, params}
    public_key = StringField()
    fingerprint = StringField()
    encrypted = BooleanField(default=False)
    status = StringField(required=True, choices=STATUSES)
    attempts = IntField(default=0)
    last_error = StringField()
    next_attempt_at = DateTimeField()
    sent_at = DateTimeField()
    created_at = DateTimeField()


class NoticeEntry(Document):
    """A notice in the feed of the States (or the Secretariat) it was issued to, with who
    of them has read it; also the report of the States nobody could be told."""

    meta = {"abstract": True}

    kind = StringField(required=True)
    topic = StringField()
    key = StringField()  # set for a clock-driven notice: it is issued once (unique, sparse)
    subject = StringField(required=True)
    body = StringField(required=True)
    link = StringField()
    states = ListField(StringField())  # the States it concerns
    secretariat = BooleanField(default=False)  # also (or only) for the Secretariat
    unreachable = ListField(StringField())  # concerned States with no reachable contact
    recipient_count = IntField(default=0)
    issued_at = DateTimeField(required=True)
    read_by = ListField(StringField())  # principal subjects


class KnownRecipient(Document):
    """The last recipients the directory named for one State and audience (``_id``:
    ``STATE:AUDIENCE``): what the service's own clock-driven notices go to."""

    meta = {"abstract": True}

    key = StringField(primary_key=True)
    state = StringField(required=True)
    audience = StringField(required=True)
    recipients = ListField(DictField())
    state_party = BooleanField()  # rule 8: as the directory last said (None: not said)
    learned_at = DateTimeField(required=True)
