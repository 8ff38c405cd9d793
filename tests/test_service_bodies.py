"""Every service limits request bodies before reading them, and a subgraph called directly
answers a clear 400 to a body that is not a UTF-8 JSON object, over real HTTP (uvicorn),
keeping the connection usable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.app import body_limit
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings
from tests.gateway_support import served

LIMIT = 64 * 1024
QUERY = b'{"query": "{ __typename }"}'


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"service_max_body_bytes": LIMIT})


@pytest.fixture
async def contacts_url(contacts_app: Any) -> AsyncIterator[tuple[str, int]]:
    async with served(contacts_app) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


class Raw:
    """One HTTP/1.1 connection, spoken by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 60)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
        body = await asyncio.wait_for(
            self.reader.readexactly(int(headers.get("content-length", "0"))), 60
        )
        return status, headers, body


async def connect(where: tuple[str, int]) -> Raw:
    return Raw(*await asyncio.open_connection(*where))


def post(body: bytes, content_type: str = "application/json", **headers: str) -> bytes:
    lines = [
        "POST /graphql HTTP/1.1",
        "Host: contacts",
        f"Content-Type: {content_type}",
        f"Content-Length: {headers.pop('length', len(body))}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_a_body_announced_too_large_is_refused_before_it_is_sent(
    contacts_url: tuple[str, int],
) -> None:
    conn = await connect(contacts_url)
    await conn.send(post(b"", length=str(40 * 1024 * 1024)))  # and never sends the 40 MB
    status, _, body = await conn.response()
    error = json.loads(body)["errors"][0]["extensions"]
    assert (status, error["code"], error["limit"], error["maximum"]) == (
        413,
        "VALIDATION",
        "bodySize",
        LIMIT,
    )


async def test_a_chunked_body_is_refused_once_it_grows_past_the_limit(
    contacts_url: tuple[str, int],
) -> None:
    conn = await connect(contacts_url)
    head = "POST /graphql HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\n"
    await conn.send((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
    chunk = b"x" * 16384
    for _ in range(LIMIT // len(chunk) + 2):
        await conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    status, _, body = await conn.response()
    assert status == 413 and json.loads(body)["errors"][0]["extensions"]["limit"] == "bodySize"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"query": "\xff\xfe{ __typename }"}', "not UTF-8"),
        (b'{"query": ', "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"{ __typename }"', "JSON object"),
        (b"42", "JSON object"),
    ],
)
async def test_a_body_that_is_not_a_json_object_answers_400_and_the_connection_stays_usable(
    contacts_url: tuple[str, int], body: bytes, words: str
) -> None:
    conn = await connect(contacts_url)
    await conn.send(post(body))
    status, headers, answer = await conn.response()
    error = json.loads(answer)["errors"][0]
    assert (status, error["extensions"]["code"]) == (400, "VALIDATION")
    assert words in error["message"]
    assert headers.get("connection") != "close"
    await conn.send(post(QUERY))  # the same connection
    status, _, answer = await conn.response()
    assert status == 200 and json.loads(answer)["data"] == {"__typename": "Query"}


def test_each_services_limit_follows_its_largest_file(settings: Settings) -> None:
    defaults = settings.model_copy(update={"service_max_body_bytes": None})

    def limit(service: str) -> int:
        return body_limit(ServiceRuntime(service=service, settings=defaults))

    assert limit("contacts") == 1024 * 1024
    assert defaults.meetings_document_max_bytes * 4 // 3 < limit("meetings") < 40 * 1024 * 1024
    assert defaults.cases_attachment_max_bytes * 4 // 3 < limit("cases") < 40 * 1024 * 1024
