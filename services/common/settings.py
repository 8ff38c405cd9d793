"""Typed settings, read once from the environment at start-up."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class Settings(BaseSettings):
    """Every setting of the suite; each environment variable is named in the README."""

    model_config = SettingsConfigDict(env_prefix="DIEF_", extra="ignore")

    env: Environment = Environment.DEV
    home: Path = Field(default=Path(".dief"), description="Local state: data, dev keys, logs.")
    log_level: str = "INFO"
    # On SIGTERM a server stops accepting and gives the requests in flight this long.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # After SIGTERM, how long a server goes on serving with /readyz false (so a load
    # balancer stops sending it requests) before it stops accepting.
    shutdown_drain_seconds: float = Field(default=0.0, ge=0, le=120)
    # Slow clients (services.common.http_guard): a request's headers must arrive within
    # this; its body within the second, extended by one second per min-rate bytes received.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    http_body_min_bytes_per_second: float = Field(default=1000.0, gt=0)
    http_max_header_bytes: int = Field(default=65536, ge=1024)
    # Connections of one process still sending their request at once; past it the slowest
    # is closed. Then all connections and requests at once (503 past it), and the idle
    # time a kept-alive connection is kept.
    http_max_slow_connections: int = Field(default=100, ge=1)
    http_max_concurrency: int = Field(default=1000, ge=1)
    http_keep_alive_seconds: int = Field(default=5, ge=1)

    # OpenTelemetry tracing (services.common.tracing): off unless an OTLP/HTTP collector is
    # named; the OpenTelemetry SDK's own OTEL_* variables (sampler, headers, batching) apply.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ),
    )

    mongodb_uri: str = Field(
        default="mongodb://127.0.0.1:27017/",
        validation_alias=AliasChoices("MONGODB_URI", "DIEF_MONGODB_URI"),
    )
    # A transaction's retries stop after this, below the gateway's mutation timeout.
    mongodb_transaction_seconds: float = Field(default=8.0, gt=0, le=60)
    contacts_db: str = "dief_contacts"
    meetings_db: str = "dief_meetings"
    cases_db: str = "dief_cases"

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "DIEF_NATS_URL"),
    )
    stream_name: str = "DIEF"
    stream_max_age_days: int = Field(default=365, ge=1)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # One relay per service at a time holds this lease; another replica takes over when it
    # expires. The stream drops a re-published event within its duplicate window, which
    # must exceed the relay's publish timeout (5 s); the relay also checks the stream
    # before publishing again, so a restart after any delay duplicates nothing.
    outbox_lease_seconds: float = Field(default=15.0, ge=1)
    stream_duplicate_window_seconds: float = Field(default=120.0, gt=0)
    # Consumers: a message unacked this long goes to another replica; an event whose
    # handling failed this many times is parked on dief.<service>.deadletter.<consumer>.
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    consumer_max_deliver: int = Field(default=5, ge=1)
    # Pruned hourly: events sent this long ago leave the outbox (the stream keeps them);
    # records of handled events go once the stream no longer holds the events (default:
    # the stream's retention, stream_max_age_days).
    outbox_keep_days: float = Field(default=7.0, ge=1)
    processed_keep_days: float | None = Field(default=None, ge=1)
    hot_data_check_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often each process compares the version of the data it keeps in "
        "memory (State registry, register of participants) with the database's: the longest "
        "a process that missed a change's event serves the old copy.",
    )

    # The principal token every subgraph call carries, signed by the gateway.
    principal_jwks: str | None = Field(
        default=None,
        description="Path (or file:// URL) of the JWKS with the gateway's public signing keys. "
        "Dev default: the local dev key under DIEF_HOME/keys.",
    )
    principal_issuer: str = "dief-gateway"
    principal_audience: str = "dief-services"
    principal_algorithms: list[str] = ["EdDSA", "ES256", "RS256"]
    principal_leeway_seconds: int = 30

    stale_after_days: int = Field(default=120, ge=1)
    # Rule 20 by the clock (services.contacts.freshness): how often re-verification
    # reminders, the stale-contacts notices and the Secretariat's report are looked at.
    contacts_freshness_interval_minutes: float = Field(default=60.0, gt=0)

    # Case exchange attachments (GridFS): largest file, and the content types accepted.
    cases_attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    # Rule 13: where the cases service asks who gives a presentation a case is linked to.
    cases_meetings_url: str = "http://127.0.0.1:8102/graphql"
    cases_attachment_types: list[str] = [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "text/plain",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text",
    ]

    # Publishing the DIEF directory into OpenLDAP (deploy/openldap); off unless a URL is set.
    ldap_publish_url: str | None = None  # ldap://, ldaps:// or ldapi://
    ldap_publish_base_dn: str | None = None
    ldap_publish_bind_dn: str | None = None  # default cn=publisher,ou=services,<base DN>
    ldap_publish_secret_ref: str | None = None  # env:VARIABLE or file:/path, never the password
    ldap_publish_start_tls: bool = False
    ldap_publish_ca_file: str | None = None

    # Importing national LDAP directories (sources are kept per State through the API).
    ldap_sync_page_size: int = Field(default=500, ge=1, le=10_000)  # RFC 2696 page size
    ldap_sync_timeout_seconds: int = Field(default=10, ge=1, le=300)
    # The contacts service runs an incremental sync of every enabled source this often, and
    # a full one (which also archives deleted entries) once the last full one is this old.
    # Off while unset.
    ldap_sync_interval_minutes: int | None = Field(default=None, ge=1)
    ldap_sync_full_every_hours: int = Field(default=24, ge=1)
    # Bind passwords of sync sources are uploaded through the API and stored sealed with
    # AES-256-GCM: base64url 32-byte keys, the first seals and any opens (rotation). Prod
    # must set them; dev makes one under DIEF_HOME/keys.
    ldap_sync_keys: list[str] = Field(default_factory=list, repr=False)
    # Which directory hosts each State's source may point at: State code (or "*" for every
    # State) -> host name patterns (fnmatch, e.g. "*.douane.gouv.fr") or IP networks.
    ldap_sync_allowed_hosts: dict[str, list[str]] = Field(default_factory=dict)
    # Dev and tests only: allow loopback, private and link-local directory addresses and
    # sources that do not verify certificates. Refused in prod.
    ldap_sync_allow_internal_hosts: bool = False

    # The gateway: callers' JWTs, the principal tokens it signs, its modes and limits.
    # Dev defaults accept the tokens `dief token` mints; prod must name the identity provider.
    gateway_port: int = 8100
    gateway_supergraph: Path = Path("gateway/supergraph.graphql")
    # Routing URLs by subgraph name, overriding the supergraph's (`dief run` sets them).
    gateway_subgraph_urls: dict[str, str] = Field(default_factory=dict)
    gateway_jwks: str | None = None  # file path or https:// URL of the identity provider
    gateway_issuer: str | None = None  # dev default: principal_issuer
    gateway_audience: str | None = None  # dev default: principal_audience
    gateway_algorithms: list[str] = ["EdDSA", "ES256", "RS256"]
    # Where the identity provider puts roles and State (dotted paths; gateway/claims.py),
    # and the prefix that marks its DIEF roles (others, e.g. Keycloak's own, are left aside).
    gateway_roles_claim: str = Field(default="roles", min_length=1)
    gateway_state_claim: str = Field(default="state", min_length=1)
    gateway_role_prefix: str = ""
    gateway_jwks_ca_file: str | None = None  # CA bundle for an https:// JWKS of a private CA
    gateway_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Callers' tokens living longer than this (exp - iat, or exp - now) are refused.
    gateway_max_token_lifetime_seconds: int = Field(default=24 * 3600, ge=60)
    # /metrics: off in prod unless a bearer secret is set; with one, only for who sends it.
    gateway_metrics_token: str | None = Field(default=None, repr=False)
    gateway_signing_key: str | None = None  # PEM of the principal-token key; dev: the dev key
    gateway_principal_ttl_seconds: int = Field(default=60, ge=5, le=900)
    gateway_authorization_mode: str = Field(default="filter", pattern="^(filter|reject)$")
    gateway_introspection: bool | None = None  # default: on in dev, off in prod
    gateway_graphiql: bool | None = None  # default: on in dev, off in prod
    gateway_persisted_queries: str = Field(default="apq", pattern="^(apq|trusted|off)$")
    gateway_trusted_documents: str | None = None  # JSON manifest {sha256: document}
    # A subgraph fetch's bound: short for queries, longer for mutations (which write; the
    # services bound their transactions' retries below it). A subgraph failing this many
    # times in a row is answered for at once (SUBGRAPH_UNAVAILABLE) during the cool-down.
    gateway_subgraph_timeout_seconds: float = Field(default=5.0, gt=0)
    gateway_subgraph_mutation_timeout_seconds: float = Field(default=10.0, gt=0)
    # A pooled connection to a subgraph idle longer than this is not reused: keep it below
    # the subgraphs' http_keep_alive_seconds, so the gateway never sends on one they close.
    gateway_subgraph_idle_seconds: float = Field(default=4.0, gt=0)
    gateway_breaker_failures: int = Field(default=5, ge=1)
    gateway_breaker_cooldown_seconds: float = Field(default=10.0, gt=0)
    gateway_plan_cache_size: int = Field(default=1000, ge=1)
    gateway_merge_inflight: bool = Field(
        default=True,
        description="Send identical subgraph fetches of the same caller in flight at the same "
        "time once (never mutations).",
    )
    # where participation is read: a subgraph's name, a URL, or "off" (an outside supergraph)
    gateway_participant_registry: str = Field(default="contacts", min_length=1)
    gateway_max_body_bytes: int = Field(default=256_000, ge=1024)
    gateway_max_batch: int = Field(default=10, ge=1)
    gateway_max_depth: int = Field(default=15, ge=1)
    gateway_max_aliases: int = Field(default=30, ge=0)
    gateway_max_root_fields: int = Field(default=20, ge=1)
    gateway_max_tokens: int = Field(default=5000, ge=10)
    gateway_max_cost: int = Field(default=20_000, ge=1)
    gateway_default_list_size: int = Field(default=20, ge=1)
    # Fairness (gateway.fairness): per caller, requests in flight at once and a rate.
    gateway_max_concurrent_per_caller: int = Field(default=16, ge=1)
    gateway_rate_per_caller: float = Field(default=100.0, gt=0)
    gateway_burst_per_caller: int = Field(default=200, ge=1)
    # Origins allowed by CORS (JSON list); default: none in prod, the dev console in dev.
    gateway_cors_origins: list[str] | None = None

    # The largest request body each service reads (refused with 413 before reading); unset:
    # the service's largest file (base64-encoded) and 1 MiB.
    service_max_body_bytes: int | None = Field(default=None, ge=1024)

    # Where `dief run` (make run) serves each service on this machine.
    host: str = "127.0.0.1"
    contacts_port: int = 8101
    meetings_port: int = 8102

    # The meetings service: where it asks the contact directory for invitation recipients,
    # document limits, its scheduler, and the SMTP server invitations go through (mail is
    # off while smtp_host is unset; deliveries then wait, reported as PENDING).
    meetings_contacts_url: str = "http://127.0.0.1:8101/graphql"
    meetings_document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    meetings_scheduler_seconds: float = Field(default=30.0, gt=0)
    meetings_reminder_days: list[int] = [14, 7, 1]
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "dief-secretariat@localhost"
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_max_attempts: int = Field(default=5, ge=1)
    smtp_retry_seconds: float = Field(default=60.0, gt=0)
    # Notices (services.common.notifications): where a notice's link points (the gateway's
    # front-end; "there is something to see" + this link + the notice's ID), and the
    # Secretariat's OpenPGP secret key that signs encrypted notices (secret references:
    # env:VARIABLE or file:/path; unset: encrypted notices go unsigned).
    notice_link_base: str = "http://127.0.0.1:8100/notices"
    notice_secretariat_email: str | None = None  # the Secretariat's reminders; default: sender
    notice_signing_key: str | None = None
    notice_signing_passphrase: str | None = None
    cases_port: int = 8103

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _otlp_is_http(cls, value: str | None) -> str | None:
        if not value:  # empty: off, as unset
            return None
        if not re.match(r"https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL of an OTLP/HTTP collector")
        return value

    @model_validator(mode="after")
    def _production_needs_real_keys(self) -> Settings:
        if self.env is Environment.PROD and not self.principal_jwks:
            raise ValueError("DIEF_PRINCIPAL_JWKS must be set when DIEF_ENV=prod")
        if self.env is Environment.PROD and self.ldap_sync_allow_internal_hosts:
            raise ValueError("DIEF_LDAP_SYNC_ALLOW_INTERNAL_HOSTS is for dev only")
        return self

    def sealing_keys(self) -> list[str]:
        """The keys that seal stored secrets; in dev a local key is made if none is set."""
        if self.ldap_sync_keys or not self.is_dev:
            return list(self.ldap_sync_keys)
        from services.common.sealed import dev_key

        return [dev_key(self.keys_dir)]

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def principal_jwks_path(self) -> Path:
        if self.principal_jwks:
            return Path(self.principal_jwks.removeprefix("file://"))
        return self.keys_dir / "jwks.json"

    def database_for(self, service: str) -> str:
        return {
            "contacts": self.contacts_db,
            "meetings": self.meetings_db,
            "cases": self.cases_db,
        }[service]


class SettingsError(Exception):
    """A setting missing or malformed: one line naming it, for the operator."""


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` (its alias when it has one)."""
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    return f"DIEF_{field.upper()}" if info else field


def _explain(exc: ValidationError | SourceError) -> str:
    if isinstance(exc, SourceError):  # a JSON value (list, object) that does not parse
        match = re.search(r'field "(\w+)"', str(exc))
        name = env_name(match.group(1)) if match else "a setting"
        return f"{name}: not valid JSON"
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a rule across settings; its message names them
        return message
    # The value itself is never repeated: it may be a URI with a password in it.
    return f"{env_name(str(error['loc'][0]))}: {message}"


def load_settings() -> Settings:
    try:
        return Settings()
    except (ValidationError, SourceError) as exc:
        raise SettingsError(_explain(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
