"""The one idempotent-create rule: a repeat replays, a reuse is refused, a race is settled."""

from __future__ import annotations

import asyncio

import pytest

from keel_runtime.idempotency import create_once, fingerprint, replay


class Reused(Exception):
    def __init__(self, first: str) -> None:
        super().__init__(f"request id already made {first}")
        self.first = first


def test_a_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint({"a": 1, "b": [2, 3]}) == fingerprint({"b": [2, 3], "a": 1})
    assert fingerprint({"m": {"x": "1", "y": "2"}}) == fingerprint({"m": {"y": "2", "x": "1"}})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint({"a": [1, 2]}) != fingerprint({"a": [2, 1]})
    # Strings that print alike are not alike.
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})


def test_a_repeat_replays_and_a_reuse_is_refused() -> None:
    assert replay("first", "fp", "fp", Reused) == "first"
    with pytest.raises(Reused) as refused:
        replay("first", "fp", "other", Reused)
    assert refused.value.first == "first"


class Store:
    """A unique key on request ids, as the database holds one."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}
        self.lock = asyncio.Lock()

    async def insert(self, request_id: str, value: str, digest: str) -> str | None:
        async with self.lock:
            if request_id in self.rows:
                return None
            await asyncio.sleep(0)  # another create runs while this one commits
            self.rows[request_id] = (value, digest)
            return value

    async def first(self, request_id: str) -> tuple[str, str] | None:
        return self.rows.get(request_id)


async def _create(store: Store, request_id: str, value: str, payload: dict[str, object]) -> str:
    digest = fingerprint(payload)
    return await create_once(
        lambda: store.insert(request_id, value, digest),
        lambda: store.first(request_id),
        digest,
        Reused,
    )


async def test_racing_repeats_make_one_thing_and_all_get_it() -> None:
    store = Store()
    made = await asyncio.gather(
        *(_create(store, "r1", f"thing-{i}", {"name": "a"}) for i in range(10))
    )
    assert len(store.rows) == 1
    assert set(made) == {store.rows["r1"][0]}


async def test_a_reused_request_id_changes_nothing() -> None:
    store = Store()
    first = await _create(store, "r1", "thing-1", {"name": "a"})
    with pytest.raises(Reused) as refused:
        await _create(store, "r1", "thing-2", {"name": "b"})
    assert refused.value.first == first
    assert store.rows == {"r1": ("thing-1", fingerprint({"name": "a"}))}


async def test_a_refused_insert_without_a_first_use_is_a_defect() -> None:
    async def refused() -> str | None:
        return None

    async def nothing() -> tuple[str, str] | None:
        return None

    with pytest.raises(RuntimeError, match="first use"):
        await create_once(refused, nothing, "fp", Reused)
