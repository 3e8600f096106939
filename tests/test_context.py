"""Context binding: tokens, decorators, asyncio tasks and threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid

import pytest

import agent_tracing as at


def test_bind_restores_exactly_the_previous_values() -> None:
    """Leaving a binding restores the outer values, not None."""
    with at.bind(correlation_id="outer", user_id="u1"):
        with at.bind(correlation_id="inner"):
            assert at.current_context() == {"correlation_id": "inner", "user_id": "u1"}
        assert at.current_context() == {"correlation_id": "outer", "user_id": "u1"}
    assert at.current_context() == {}


def test_bind_restores_after_an_exception() -> None:
    """An exception inside the block still resets the binding."""
    with pytest.raises(RuntimeError), at.bind(user_id="u1"):
        raise RuntimeError("boom")
    assert at.current_context() == {}


def test_none_unbinds_a_key_inside_the_block() -> None:
    """Binding None removes the key for the block only."""
    with at.bind(user_id="u1"):
        with at.bind(user_id=None):
            assert "user_id" not in at.current_context()
        assert at.get_context_value("user_id") == "u1"


def test_extra_keys_are_kept_apart_from_schema_fields() -> None:
    """A non-schema key is bound and readable, and listed by current_context."""
    with at.bind(request_path="/x", strategy_id=5):
        assert at.get_context_value("request_path") == "/x"
        assert at.current_context() == {"request_path": "/x", "strategy_id": 5}


def test_current_context_is_a_copy() -> None:
    """Changing the returned dict does not change the bound context."""
    with at.bind(user_id="u1"):
        ctx = at.current_context()
        ctx["user_id"] = "changed"
        assert at.get_context_value("user_id") == "u1"


def test_bind_as_a_sync_decorator_binds_per_call() -> None:
    """A decorated function sees the fields; the caller does not afterwards."""

    @at.bind(component="Worker")
    def work() -> object:
        return at.get_context_value("component")

    assert work() == "Worker"
    assert at.get_context_value("component") is None


def test_bind_as_an_async_decorator_and_concurrent_calls() -> None:
    """Concurrent calls of a decorated coroutine each get their own binding."""

    @at.bind(component="Agent")
    async def work(cid: str) -> tuple[object, object]:
        with at.bind(correlation_id=cid):
            await asyncio.sleep(0.001)
            return at.get_context_value("component"), at.get_context_value("correlation_id")

    async def main() -> list[tuple[object, object]]:
        return await asyncio.gather(*(work(f"c{i}") for i in range(20)))

    assert asyncio.run(main()) == [("Agent", f"c{i}") for i in range(20)]


def test_async_with_binds() -> None:
    """bind works as an async context manager."""

    async def main() -> object:
        async with at.bind(user_id="u2"):
            return at.get_context_value("user_id")

    assert asyncio.run(main()) == "u2"


def test_asyncio_tasks_inherit_the_context() -> None:
    """A task created inside a binding sees it."""

    async def child() -> object:
        return at.get_context_value("correlation_id")

    async def main() -> object:
        with at.bind(correlation_id="cid-1"):
            return await asyncio.create_task(child())

    assert asyncio.run(main()) == "cid-1"


def test_threads_started_with_a_copied_context_inherit_it() -> None:
    """copy_context().run carries the binding into a thread; a bare thread starts empty."""
    seen: dict[str, object] = {}
    with at.bind(correlation_id="cid-2"):
        ctx = contextvars.copy_context()
        copied = threading.Thread(
            target=ctx.run,
            args=(lambda: seen.__setitem__("copied", at.get_context_value("correlation_id")),),
        )
        bare = threading.Thread(
            target=lambda: seen.__setitem__("bare", at.get_context_value("correlation_id"))
        )
        copied.start()
        bare.start()
        copied.join()
        bare.join()
    assert seen == {"copied": "cid-2", "bare": None}


def test_new_correlation_id_is_a_uuid4() -> None:
    """new_correlation_id returns distinct UUID4 strings."""
    ids = {at.new_correlation_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert all(str(uuid.UUID(i)) == i for i in ids)
    assert all(uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)


def test_bind_contextvars_token_pair() -> None:
    """bind_contextvars returns a token that reset_contextvars undoes."""
    token = at.bind_contextvars(user_id="u3")
    assert at.get_context_value("user_id") == "u3"
    at.reset_contextvars(token)
    assert at.get_context_value("user_id") is None


def test_replace_contextvars_drops_what_was_bound() -> None:
    """replace_contextvars starts from nothing and its token restores the old context."""
    with at.bind(user_id="old", request_path="/a"):
        token = at.replace_contextvars({"correlation_id": "new"})
        assert at.current_context() == {"correlation_id": "new"}
        at.reset_contextvars(token)
        assert at.current_context() == {"user_id": "old", "request_path": "/a"}


def test_one_bind_object_entered_from_two_threads_at_once() -> None:
    """Two threads inside the same ``bind`` object leave it in any order without an error, and
    neither thread keeps the binding after its block."""
    shared = at.bind(user_id="shared")
    a_in, b_in, a_left = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    after: dict[str, dict[str, object]] = {}

    def first() -> None:  # enters first and leaves first
        try:
            with shared:
                a_in.set()
                b_in.wait(timeout=5)
            after["first"] = at.current_context()
        except BaseException as error:  # pragma: no cover - what the test looks for
            errors.append(error)
        finally:
            a_left.set()

    def second() -> None:
        try:
            a_in.wait(timeout=5)
            with shared:
                b_in.set()
                a_left.wait(timeout=5)
            after["second"] = at.current_context()
        except BaseException as error:  # pragma: no cover - what the test looks for
            errors.append(error)

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(first,)),
        threading.Thread(target=contextvars.copy_context().run, args=(second,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert after == {"first": {}, "second": {}}


def test_one_bind_object_entered_from_concurrent_asyncio_tasks() -> None:
    """``async with`` on one shared ``bind`` from gathered tasks never raises and never leaks."""
    shared = at.bind(strategy_id="s1")

    async def task(delay: float) -> tuple[object, dict[str, object]]:
        async with shared:
            await asyncio.sleep(delay)
            seen = at.get_context_value("strategy_id")
        return seen, at.current_context()

    async def main() -> list[tuple[object, dict[str, object]]]:
        return await asyncio.gather(task(0.02), task(0.0), task(0.01))

    assert asyncio.run(main()) == [("s1", {})] * 3
    assert at.current_context() == {}


def test_nested_reentry_of_one_bind_object() -> None:
    """The same ``bind`` object entered twice in one thread unwinds one level per exit."""
    shared = at.bind(component="c")
    with shared:
        with at.bind(component="middle"), shared:
            assert at.get_context_value("component") == "c"
        assert at.get_context_value("component") == "c"
    assert at.current_context() == {}


def test_bind_decorators_run_concurrently_in_threads_and_tasks() -> None:
    """A sync and an async function decorated by one ``bind`` run concurrently, each call
    seeing its binding and leaving nothing behind."""
    binder = at.bind(backtest_id="b7")
    barrier = threading.Barrier(4)

    @binder
    def sync_work() -> object:
        barrier.wait(timeout=5)
        return at.get_context_value("backtest_id")

    @binder
    async def async_work(delay: float) -> object:
        await asyncio.sleep(delay)
        return at.get_context_value("backtest_id")

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(sync_work())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    async def main() -> list[object]:
        return await asyncio.gather(async_work(0.01), async_work(0.0))

    assert results + asyncio.run(main()) == ["b7"] * 6
    assert at.current_context() == {}


def test_many_bind_objects_leave_no_variables_behind() -> None:
    """A thread entering a thousand ``bind`` objects in turn keeps a context of constant size."""
    before = len(contextvars.copy_context())
    for i in range(1000):
        with at.bind(user_id=f"u{i}"), at.bind(component="loop"):
            pass
    assert before == len(contextvars.copy_context())


def test_an_unmatched_exit_never_raises() -> None:
    """Leaving a ``bind`` object that was not entered here is a no-op, not an error."""
    shared = at.bind(user_id="u1")
    shared.__exit__(None, None, None)
    with shared:
        contextvars.copy_context().run(shared.__exit__, None, None, None)
        assert at.get_context_value("user_id") == "u1"
    assert at.current_context() == {}
