"""The cases service's endpoints besides ``/graphql`` (see ``services.common.routes``)."""

from services.common.routes import HttpRoute

ROUTES = (
    HttpRoute(
        "/cases/{case_id}/attachments",
        "upload",
        ("POST",),
        body_limit="cases_attachment_max_bytes",
    ),
    HttpRoute("/cases/attachments/{attachment_id}", "download"),
)
