"""The meetings service's endpoints besides ``/graphql`` (see ``services.common.routes``)."""

from services.common.routes import HttpRoute

ROUTES = (
    HttpRoute("/meetings/calendar.ics", "calendar_feed"),
    HttpRoute("/meetings/calendar/{secret}.ics", "calendar_link_feed", capability=True),
    HttpRoute("/meetings/documents/{id}", "document_file"),
)
