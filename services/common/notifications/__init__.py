"""One way of telling people: notices queued in a service's own MongoDB database, one
delivery record per recipient address, sent over SMTP with retries and back-off, OpenPGP-
encrypted to a recipient who registered a key, and kept in each State's feed.

Shared by the meetings, cases and contacts services; each subclasses the abstract
documents of ``documents`` with its own database alias (as with ``participants``).
"""
