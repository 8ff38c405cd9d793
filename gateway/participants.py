"""Which States take part in the Forum now, as the contacts registry says.

Participation is never taken from a caller's token. At start the gateway subscribes to
``dief.contacts.state.status_changed`` and then loads every State's status from the
contacts subgraph (a GraphQL query with a short-lived system principal token); changes
announced afterwards apply at once, so a State that stops being a participant loses
access on its next request. Until the first load succeeds the gateway is not ready. After a
NATS reconnection (events may have been missed) the registry is loaded again.

Changes come through a JetStream pull consumer of the gateway's own, so the gateway needs
only the JetStream API rights ``deploy/nats/nats.conf`` gives it, never a subscription to
``dief.>`` itself. ``stop()`` always finishes within a bound, whatever NATS does.

Where the registry is read is configured (``registry_url``): a subgraph of the supergraph
(``contacts`` by default), a URL, or ``off`` (``RegistryOff``: nobody is a participant and
readiness waits on nothing) for a supergraph that is not ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import httpx
import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.common.principal import Principal, Role

log = logging.getLogger("dief.gateway.participants")

STATUS_CHANGED = "dief.contacts.state.status_changed"
CONSUMER_IDLE_SECONDS = 300.0
PAGE = 200
STOP_SECONDS = 5.0
RELOAD_WITHOUT_NATS = 15  # retry periods between two reads of the registry while NATS is away
STATES_QUERY = """
query GatewayRegistry($first: Int!, $after: String) {
  states(first: $first, after: $after) {
    edges { node { code participant } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
REGISTRY_PRINCIPAL = Principal(subject="dief-gateway", roles=frozenset({Role.SYSTEM}))


class RegistryUnavailable(Exception):
    """The contacts registry could not be read."""


TokenFactory = Callable[[Principal], str]


async def fetch_statuses(http: httpx.AsyncClient, contacts_url: str, token: str) -> dict[str, bool]:
    """Every State's participation, page by page."""
    statuses: dict[str, bool] = {}
    after: str | None = None
    while True:
        try:
            response = await http.post(
                contacts_url,
                json={"query": STATES_QUERY, "variables": {"first": PAGE, "after": after}},
                headers={"authorization": f"Bearer {token}"},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RegistryUnavailable(f"contacts at {contacts_url}: {exc!r}") from exc
        if response.status_code != 200 or body.get("errors") or not body.get("data"):
            raise RegistryUnavailable(
                f"contacts at {contacts_url} answered {response.status_code}: "
                f"{json.dumps(body.get('errors'))[:300]}"
            )
        connection = body["data"]["states"]
        for edge in connection["edges"]:
            statuses[edge["node"]["code"]] = bool(edge["node"]["participant"])
        if not connection["pageInfo"]["hasNextPage"]:
            return statuses
        after = connection["pageInfo"]["endCursor"]


class ParticipantRegistry:
    def __init__(
        self,
        contacts_url: str,
        nats_url: str,
        token_for: TokenFactory,
        *,
        retry_seconds: float = 2.0,
        http: httpx.AsyncClient | None = None,
        stream: str = "DIEF",
    ) -> None:
        self.contacts_url = contacts_url
        self.nats_url = nats_url
        self.stream = stream
        self.token_for = token_for
        self.retry_seconds = retry_seconds
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._statuses: dict[str, bool] = {}
        self._changes_during_load: dict[str, bool] | None = None
        self.loaded = asyncio.Event()
        self.nc: NATS | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._reload: asyncio.Event = asyncio.Event()
        self._stopping = False

    # --- reading ------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Able to serve requests: the registry is loaded. NATS away is reported (checks,
        metrics) but is no reason to stop serving: the registry is then read again from
        contacts every ``retry_seconds * RELOAD_WITHOUT_NATS`` instead of followed."""
        return self.loaded.is_set()

    @property
    def nats_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def checks(self) -> dict[str, bool]:
        """What `/readyz` reports: the registry loaded, NATS connected."""
        return {"registry": self.loaded.is_set(), "nats": self.nats_connected}

    def is_participant(self, state: str | None) -> bool:
        """Unknown States and callers without a State are not participants."""
        return state is not None and self._statuses.get(state, False)

    @property
    def participant_count(self) -> int:
        return sum(self._statuses.values())

    # --- keeping it current -------------------------------------------------------------

    def apply_change(self, state: str, participant: bool) -> None:
        self._statuses[state] = participant
        if self._changes_during_load is not None:
            self._changes_during_load[state] = participant
        log.info("participation changed", extra={"state": state, "participant": participant})

    def _on_status_changed(self, raw: bytes) -> None:
        try:
            data = json.loads(raw)["data"]
            state, participant = data["stateCode"], data["participant"]
        except (ValueError, KeyError, TypeError):
            log.error("ignoring a malformed status_changed event")
            return
        if isinstance(state, str) and isinstance(participant, bool):
            self.apply_change(state, participant)

    async def load(self) -> None:
        token = self.token_for(REGISTRY_PRINCIPAL)
        self._changes_during_load = {}
        try:
            statuses = await fetch_statuses(self._http, self.contacts_url, token)
            statuses.update(self._changes_during_load)  # newer than what was read
        finally:
            self._changes_during_load = None
        self._statuses = statuses
        self.loaded.set()
        self.last_error = None
        log.info("participant registry loaded", extra={"states": len(statuses)})

    async def _connect(self) -> NATS:
        async def reconnected() -> None:
            self._reload.set()  # events may have been missed while away

        async def error(exc: Exception) -> None:
            self.last_error = f"NATS: {exc!r}"

        return await nats.connect(
            servers=self.nats_url.split(","),
            name="dief-gateway",
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            reconnected_cb=reconnected,
            error_cb=error,
        )

    async def _subscribe(self, nc: NATS) -> JetStreamContext.PullSubscription:
        """A consumer of this gateway's own (each replica sees every change), from now on;
        the server removes it once the gateway has been gone a while."""
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=STATUS_CHANGED,
            inactive_threshold=CONSUMER_IDLE_SECONDS,
        )
        return await nc.jetstream().pull_subscribe(
            STATUS_CHANGED, stream=self.stream, config=config
        )

    async def _follow(self, nc: NATS) -> None:
        subscription = None
        while True:
            try:
                if subscription is None:
                    subscription = await self._subscribe(nc)
                    self._reload.set()  # what changed before the consumer existed
                messages = await subscription.fetch(50, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"NATS: {exc!r}"
                log.warning("status changes not followed; retrying", extra={"error": str(exc)})
                subscription = None
                await asyncio.sleep(self.retry_seconds)
                continue
            for message in messages:
                self._on_status_changed(message.data)
                await message.ack()

    async def _keep_loaded(self) -> None:
        while True:
            if self.nats_connected:
                await self._reload.wait()
            else:  # changes are not followed: read the registry again now and then
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._reload.wait(), self.retry_seconds * RELOAD_WITHOUT_NATS
                    )
            self._reload.clear()
            try:
                await self.load()
            except RegistryUnavailable as exc:
                self.last_error = str(exc)
                log.warning("participant registry not loaded", extra={"error": str(exc)})
                await asyncio.sleep(self.retry_seconds)
                self._reload.set()

    async def run(self) -> None:
        """Load the registry (NATS or not), follow status changes, and load it again
        whenever NATS comes back or the consumer had to be made anew; retries until
        stopped."""
        self._reload.set()
        await asyncio.gather(self._keep_loaded(), self._connect_and_follow())

    async def _connect_and_follow(self) -> None:
        while self.nc is None and not self._stopping:
            try:
                nc = await self._connect()
            except Exception as exc:
                self.last_error = f"NATS: {exc!r}"
                log.warning("NATS not reachable yet", extra={"error": str(exc)})
                await asyncio.sleep(self.retry_seconds)
                continue
            if self._stopping:
                # the NATS client can swallow a cancellation while connecting
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(nc.close(), STOP_SECONDS)
                return
            self.nc = nc
        if self.nc is None:
            return
        await self._follow(self.nc)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self.run())

    async def stop(self, within: float = STOP_SECONDS) -> None:
        """Stop following, within a bound whatever NATS does.

        The NATS client can swallow a cancellation (while connecting to an unreachable
        server, say); the task is cancelled again until it ends or `within` seconds have
        passed, after which it is left behind rather than holding up the shutdown.
        """
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        task = self._task
        while task is not None and not task.done():
            left = deadline - loop.time()
            if left <= 0:
                log.error("the participant registry did not stop in time; left behind")
                break
            task.cancel()
            await asyncio.wait({task}, timeout=min(0.5, left))
        if task is not None and task.done() and not task.cancelled():
            with contextlib.suppress(Exception):
                task.exception()  # retrieved, so never reported as unretrieved
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), max(deadline - loop.time(), 0.5))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._http.aclose(), 2)


class RegistryOff:
    """No participant registry (an outside supergraph, or one without our contacts
    registry): no caller is a participant, so participant-only fields are refused, and
    readiness waits on nothing."""

    nc = None
    last_error: str | None = None
    participant_count = 0
    nats_connected = False

    def __init__(self) -> None:
        self.loaded = asyncio.Event()
        self.loaded.set()

    @property
    def ready(self) -> bool:
        return True

    def checks(self) -> dict[str, bool]:
        return {"registryOff": True}

    def is_participant(self, state: str | None) -> bool:
        return False

    def start(self) -> None:
        log.warning("participant registry off: no caller is a Forum participant")

    async def stop(self, within: float = STOP_SECONDS) -> None:
        return None


class RegistrySettingError(ValueError):
    """DIEF_GATEWAY_PARTICIPANT_REGISTRY names nothing the gateway can use."""


def registry_url(setting: str, subgraphs: dict[str, str]) -> str | None:
    """Where the participant registry is read: None when it is off.

    `setting` is `off`, the name of a subgraph of the supergraph (`contacts` by default),
    or an http(s) URL of a GraphQL endpoint answering the contacts registry's `states`
    query. A name the supergraph does not have is refused: a supergraph that is not ours
    must say so (`off`) rather than have the gateway guess an address.
    """
    value = setting.strip()
    if value.lower() == "off":
        return None
    if value.startswith(("http://", "https://")):
        return value
    url = subgraphs.get(value)
    if not url:
        known = ", ".join(sorted(subgraphs)) or "none"
        raise RegistrySettingError(
            f"the participant registry is the subgraph {value!r}, which the supergraph does "
            f"not have (its subgraphs: {known}); set DIEF_GATEWAY_PARTICIPANT_REGISTRY to "
            "off, to one of them, or to the URL of the contacts registry"
        )
    return url
