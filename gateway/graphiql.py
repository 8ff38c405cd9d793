"""GraphiQL served by the gateway itself, for networks without internet: its scripts and
styles are files of this package (``gateway/static/graphiql``: GraphiQL 3.8.3, React and
ReactDOM 18.3.1, from their npm packages, with their licences; ``make vendor-graphiql``
fetches them again). The page loads nothing from elsewhere (its Content-Security-Policy
says so), opens the header editor prefilled with ``Authorization: Bearer `` and says how to
get a dev token.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "graphiql"
ASSETS = "/graphiql-assets"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>DIEF Exchange GraphiQL</title>
  <link rel="stylesheet" href="{assets}/graphiql.min.css">
  <style>
    body {{ margin: 0; height: 100vh; display: flex; flex-direction: column; }}
    #hint {{ font: 13px sans-serif; padding: 6px 12px; background: #f3f4f6; }}
    #graphiql {{ flex: 1; min-height: 0; }}
  </style>
</head>
<body>
  <p id="hint">Put a token after <code>Bearer</code> in the Headers editor below. A dev
    token: <code>.venv/bin/dief token --sub alice --state FRA --role delegate</code>; in
    production, a token of your identity provider.</p>
  <div id="graphiql" data-endpoint="{endpoint}">Loading GraphiQL…</div>
  <script src="{assets}/react.production.min.js"></script>
  <script src="{assets}/react-dom.production.min.js"></script>
  <script src="{assets}/graphiql.min.js"></script>
  <script src="{assets}/dief-graphiql.js"></script>
</body>
</html>
"""


def page(endpoint: str = "/graphql") -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(assets=ASSETS, endpoint=endpoint),
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def assets() -> Mount:
    return Mount(ASSETS, app=StaticFiles(directory=STATIC), name="graphiql-assets")
