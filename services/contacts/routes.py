"""The contacts service's endpoints besides ``/graphql`` (see ``services.common.routes``)."""

from services.common.routes import HttpRoute

ROUTES = (HttpRoute("/contacts/{code}.vcf", "state_vcf"),)
