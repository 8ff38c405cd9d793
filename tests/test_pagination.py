"""Pages count their list only when the caller asks for ``totalCount``."""

from __future__ import annotations

import strawberry

from services.common.pagination import Connection, connection, decode_cursor


def schema_counting(calls: list[int]) -> strawberry.Schema:
    def count() -> int:
        calls.append(1)
        return 7

    @strawberry.type
    class Query:
        @strawberry.field
        def numbers(self) -> Connection[int]:
            return connection([3, 4], 2, has_next_page=True, total=count)

    return strawberry.Schema(query=Query)


async def test_the_count_is_left_out_unless_selected() -> None:
    calls: list[int] = []
    schema = schema_counting(calls)
    page = await schema.execute("{ numbers { edges { node cursor } pageInfo { hasNextPage } } }")
    assert page.errors is None
    assert calls == []
    edges = page.data["numbers"]["edges"]
    assert [e["node"] for e in edges] == [3, 4]
    assert [decode_cursor(e["cursor"]) for e in edges] == [2, 3]
    assert page.data["numbers"]["pageInfo"]["hasNextPage"] is True

    counted = await schema.execute("{ numbers { totalCount } }")
    assert counted.errors is None
    assert counted.data == {"numbers": {"totalCount": 7}}
    assert calls == [1]


def test_a_known_total_gives_has_next_page() -> None:
    assert connection([1, 2], 0, total=3).page_info.has_next_page is True
    assert connection([3], 2, total=3).page_info.has_next_page is False
    assert connection([], 0, total=0).page_info.start_cursor is None
