"""``use_tenant`` blocks that end out of order (docs/tenants.md, "Blocks that end out of order").

In this process no tenant is configured: the selection itself is tested (``current_tenant``,
which the tenant router reads) with a registry that counts ``use``/``unuse``. The writes
through the router are tested in the tenant project (``test_writes_follow_the_running_code``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from django_cfg.tenants import context
from django_cfg.tenants.context import _at_yield, current_tenant, use_tenant
from django_cfg.tenants.registry import current_registry
from tests.tenants.project.scenarios import Rollback, error_of
from tests.tenants.project_support import TenantProject, sqlite_titles


class CountingRegistry:
    """Counts the contexts that selected each tenant (``TenantRegistry.use``/``unuse``)."""

    def __init__(self) -> None:
        self.in_use: Counter[str] = Counter()

    def use(self, name: str) -> None:
        self.in_use[name] += 1

    def unuse(self, name: str) -> None:
        self.in_use[name] -= 1


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingRegistry]:
    counting = CountingRegistry()
    monkeypatch.setattr(context, "_registry", lambda: counting)
    yield counting
    gc.collect()  # generators left suspended end their blocks now
    assert +counting.in_use == Counter(), "use/unuse unbalanced"
    assert current_tenant() is None


def acme_rows() -> Iterator[str | None]:
    """A generator that selects acme around its yields (the issue's shape)."""
    with use_tenant("acme"):
        yield current_tenant()
        yield current_tenant()


def test_a_generator_suspended_in_its_block_leaves_its_consumer_its_tenant(
    registry: CountingRegistry,
) -> None:
    with use_tenant("beta"):
        rows = acme_rows()
        assert next(rows) == "acme"  # the generator's own code
        assert current_tenant() == "beta"  # was acme: beta's write went to acme
        assert registry.in_use == {"beta": 1, "acme": 1}
        assert next(rows) == "acme"
        assert current_tenant() == "beta"
    assert current_tenant() is None
    del rows  # collected: its block ends now, out of order
    assert current_tenant() is None  # was beta, with no block open
    assert +registry.in_use == Counter()


def test_a_generator_collected_in_another_block_ends_its_own_block_only(
    registry: CountingRegistry,
) -> None:
    rows = acme_rows()
    assert next(rows) == "acme"
    assert current_tenant() is None
    with use_tenant("beta"):
        assert next(rows) == "acme"  # resumed inside beta: its code still runs as acme
        assert current_tenant() == "beta"
        rows.close()
        assert current_tenant() == "beta"  # not reset to what was selected before acme
    assert current_tenant() is None


def test_an_async_generator_keeps_its_tenant_in_its_threads_not_in_its_consumers(
    registry: CountingRegistry,
) -> None:
    """Django's async ORM runs each query in a thread (``sync_to_async``): a query of the
    consumer between two yields is the consumer's, one of the generator's code the generator's."""

    async def acme_stream() -> AsyncIterator[tuple[str | None, str | None]]:
        async with use_tenant("acme"):
            await asyncio.sleep(0)
            yield current_tenant(), await asyncio.to_thread(current_tenant)
            yield current_tenant(), await asyncio.to_thread(current_tenant)

    async def consume() -> list[Any]:
        seen: list[Any] = []
        async with use_tenant("beta"):
            async for own in acme_stream():
                seen.append((own, current_tenant(), await asyncio.to_thread(current_tenant)))
        return seen

    seen = asyncio.run(consume())
    assert seen == [(("acme", "acme"), "beta", "beta")] * 2


def test_context_managers_built_on_generators_select_for_the_callers_block(
    registry: CountingRegistry,
) -> None:
    @contextlib.contextmanager
    def as_acme() -> Iterator[None]:
        with use_tenant("acme"):
            yield

    @contextlib.asynccontextmanager
    async def as_gamma() -> AsyncIterator[None]:
        async with use_tenant("gamma"):
            yield

    async def inside_gamma() -> tuple[str | None, str | None]:
        async with as_gamma():
            return current_tenant(), await asyncio.to_thread(current_tenant)

    with use_tenant("beta"):
        with as_acme():
            assert current_tenant() == "acme"
        assert current_tenant() == "beta"
        assert asyncio.run(inside_gamma()) == ("gamma", "gamma")

    def yield_fixture() -> Iterator[None]:  # pytest runs it up to its yield, then the test
        with contextlib.ExitStack() as stack:
            stack.enter_context(use_tenant("acme"))  # entered outside its body: for the test
            yield

    fixture = yield_fixture()
    next(fixture)
    assert current_tenant() == "acme"
    fixture.close()
    assert current_tenant() is None


def test_a_context_manager_of_use_tenant_in_a_generator_selects_for_the_generator_only(
    registry: CountingRegistry,
) -> None:
    """``with as_tenant("acme"): yield`` in a generator's body, ``as_tenant`` a user's own
    ``@contextmanager`` around ``use_tenant``: the generator's block, as ``use_tenant`` itself."""

    @contextlib.contextmanager
    def as_tenant(name: str) -> Iterator[None]:
        with use_tenant(name):
            yield

    @contextlib.asynccontextmanager
    async def as_tenant_async(name: str) -> AsyncIterator[None]:
        async with use_tenant(name):
            yield

    def acme_items() -> Iterator[str | None]:
        with as_tenant("acme"):
            yield current_tenant()

    async def acme_items_async() -> AsyncIterator[str | None]:
        async with as_tenant_async("acme"):
            yield current_tenant()

    async def consume_async() -> tuple[str | None, str | None]:
        items = acme_items_async()
        first = await items.__anext__()
        between = current_tenant()
        await items.aclose()
        return first, between

    with use_tenant("beta"):
        items = acme_items()
        assert next(items) == "acme"
        assert current_tenant() == "beta"  # was acme: the consumer's write went to acme
        items.close()
        assert asyncio.run(consume_async()) == ("acme", "beta")
        assert current_tenant() == "beta"


def test_tasks_a_generator_starts_in_its_block_run_as_its_tenant_while_it_waits(
    registry: CountingRegistry,
) -> None:
    async def child() -> str | None:
        await asyncio.sleep(0)
        return current_tenant()

    async def acme_stream() -> AsyncIterator[Any]:
        async with use_tenant("acme"):
            yield await asyncio.gather(child(), child())  # the generator waits for them
            yield asyncio.ensure_future(child())  # still running once it is at its yield

    async def consume() -> list[Any]:
        seen = []
        async with use_tenant("beta"):
            stream = acme_stream()
            seen.append(await stream.__anext__())
            seen.append(await (await stream.__anext__()))
            await stream.aclose()
        return seen

    # The documented limit: a task that outlives the generator's yield runs with the tenant
    # of the context it was started in, without the generator's block (beta here).
    assert asyncio.run(consume()) == [["acme", "acme"], "beta"]


def test_decorated_generator_functions_run_as_their_tenant(registry: CountingRegistry) -> None:
    @use_tenant("acme")
    def titles() -> Iterator[str | None]:
        yield current_tenant()  # was None: the decorator's block had ended before the first item
        yield current_tenant()

    @use_tenant("acme")
    async def stream() -> AsyncIterator[str | None]:
        yield current_tenant()
        yield await asyncio.to_thread(current_tenant)

    async def consume() -> list[Any]:
        async with use_tenant("beta"):
            return [(item, current_tenant()) async for item in stream()]

    with use_tenant("beta"):
        assert [(item, current_tenant()) for item in titles()] == [("acme", "beta")] * 2
    assert asyncio.run(consume()) == [("acme", "beta")] * 2


def test_one_use_tenant_object_entered_in_two_threads_exits_in_any_order(
    registry: CountingRegistry,
) -> None:
    shared = use_tenant("acme")
    entered = [threading.Event(), threading.Event()]
    leave = [threading.Event(), threading.Event()]
    seen: dict[int, list[str | None]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            with use_tenant("beta"):
                with shared:
                    entered[number].set()
                    leave[number].wait(30)
                    seen[number].append(current_tenant())
                seen[number].append(current_tenant())
            seen[number].append(current_tenant())
        except BaseException as error:  # the old shared stack: a token of another context
            errors.append(error)
            entered[number].set()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
    for number, thread in enumerate(threads):
        thread.start()
        assert entered[number].wait(30)
    leave[0].set()  # the first one in leaves first: not last in, first out
    threads[0].join(30)
    leave[1].set()
    threads[1].join(30)
    assert errors == []
    assert seen == {0: ["acme", "beta", None], 1: ["acme", "beta", None]}


class Suspend:
    def __await__(self) -> Iterator[None]:
        yield None


def test_a_coroutine_closed_in_another_context_ends_its_block_there_too(
    registry: CountingRegistry,
) -> None:
    started = contextvars.copy_context()

    async def work() -> None:
        async with use_tenant("acme"):
            await Suspend()  # driven by hand: no event loop

    coroutine = work()
    started.run(coroutine.send, None)  # suspended inside its block, in the started context
    assert started.run(current_tenant) == "acme"
    with use_tenant("beta"):
        coroutine.close()  # GeneratorExit: its exit runs here, in another context
        assert current_tenant() == "beta"
    assert started.run(current_tenant) is None  # was acme forever (the reset failed)


def test_exiting_more_often_than_entering_changes_nothing(registry: CountingRegistry) -> None:
    block = use_tenant("acme")
    with use_tenant("beta"):
        with block:
            pass
        block.__exit__(None, None, None)
        assert current_tenant() == "beta"


def test_suspended_generators_are_read_from_their_bytecode() -> None:
    """``_at_yield`` reads CPython's bytecode: this fails when a Python release changes it."""

    def counting() -> Iterator[int]:
        yield 1
        yield from counting_more()

    def counting_more() -> Iterator[int]:
        assert not _at_yield(sys._getframe(1))  # running (the caller of this one)
        yield 2

    async def waiting() -> AsyncIterator[int]:
        await asyncio.sleep(0)
        yield 1

    rows = counting()
    next(rows)
    assert _at_yield(rows.gi_frame)  # type: ignore[arg-type]
    next(rows)
    assert _at_yield(rows.gi_frame)  # type: ignore[arg-type]  # at a yield from

    async def probe() -> tuple[bool, bool]:
        stream = waiting()
        step = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        at_await = _at_yield(stream.ag_frame)
        await step
        return at_await, _at_yield(stream.ag_frame)

    assert asyncio.run(probe()) == (False, True)


def test_writes_follow_the_running_code(tmp_path: Path) -> None:
    """In the tenant project: where each write lands, which database a QuerySet built in one
    tenant reads in another, and what ``atomic()`` without ``using`` covers."""
    project = TenantProject(tmp_path, "sqlite:///tenants/{tenant}.sqlite3", names=["acme", "beta"])
    project.manage("migrate_all", "--verbosity", "0")
    out = project.scenario(writes)
    assert sqlite_titles(project, "acme") == sorted(
        ["acme-1", "acme-2", "acme-from-generator", "atomic-default-rolled-back"]
    )
    assert sqlite_titles(project, "beta") == sorted(
        ["beta-1", "beta-from-consumer", "beta-from-async-consumer"]
    )
    assert out["after_collection"] == [None, "NoTenantError"]
    assert out["generator_read"] == ["acme-1", "acme-2"]
    assert out["in_use"] == {}
    # A QuerySet is bound to a tenant when it runs, not when it is built (docs/tenants.md):
    assert out["built_in_acme_run_in_beta"] == ["beta-1"]
    assert out["run_in_acme_then_iterated_in_beta"] == ["acme-1", "acme-2"]  # its result cache
    assert out["pinned_with_using"] == ["acme-1", "acme-2"]
    assert out["acme_row_saved_in_beta"].startswith("ValueError: A notes.Note of tenant 'beta'")
    assert out["atomic_using_tenant"] == "rolled back"


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def writes(args: list[str]) -> dict[str, Any]:
    """Writes around generators suspended in their block; QuerySets across tenants; atomic."""
    from tests.tenants.project.notes.models import Note

    out: dict[str, Any] = {}
    with use_tenant("acme"):
        Note.objects.create(title="acme-1")
        Note.objects.create(title="acme-2")
    with use_tenant("beta"):
        Note.objects.create(title="beta-1")

    def acme_notes() -> Iterator[str]:
        with use_tenant("acme"):
            for note in Note.objects.order_by("title"):
                yield note.title
            Note.objects.create(title="acme-from-generator")

    with use_tenant("beta"):
        rows = acme_notes()
        read = [next(rows)]
        Note.objects.create(title="beta-from-consumer")  # beta's, not acme's
        read += list(rows)
        out["generator_read"] = read
        rows = acme_notes()
        next(rows)  # left suspended inside its acme block, collected below
    del rows
    gc.collect()
    out["after_collection"] = [current_tenant(), error_of(Note.objects.count).partition(":")[0]]

    async def acme_stream() -> AsyncIterator[str]:
        async with use_tenant("acme"):
            async for note in Note.objects.order_by("title"):
                yield note.title

    async def consume() -> None:
        async with use_tenant("beta"):
            async for _title in acme_stream():
                await Note.objects.acreate(title="beta-from-async-consumer")
                break

    asyncio.run(consume())
    registry = current_registry()
    assert registry is not None
    out["in_use"] = dict(registry._in_use)
    _querysets(out)
    _atomic(out)
    return out


def _querysets(out: dict[str, Any]) -> None:
    from tests.tenants.project.notes.models import Note

    with use_tenant("acme"):
        built = Note.objects.filter(title__endswith="-1")
        cached = Note.objects.filter(title__in=["acme-1", "acme-2"]).order_by("title")
        list(cached)
        pinned = Note.objects.using("tenant_acme").filter(title__in=["acme-1", "acme-2"])
        row = Note.objects.get(title="acme-1")
    with use_tenant("beta"):
        out["built_in_acme_run_in_beta"] = sorted(n.title for n in built)
        out["run_in_acme_then_iterated_in_beta"] = [n.title for n in cached]
        out["pinned_with_using"] = sorted(n.title for n in pinned)
        row.title = "acme-1-saved-in-beta"
        out["acme_row_saved_in_beta"] = error_of(row.save)


def _atomic(out: dict[str, Any]) -> None:
    from tests.tenants.project.notes.models import Note

    with use_tenant("acme"):
        try:
            with transaction.atomic():  # a transaction of default: acme's write is not in it
                Note.objects.create(title="atomic-default-rolled-back")
                raise Rollback
        except Rollback:
            pass
        try:
            with transaction.atomic(using="tenant_acme"):
                Note.objects.create(title="atomic-tenant")
                raise Rollback
        except Rollback:
            pass
        gone = not Note.objects.filter(title="atomic-tenant").exists()
        out["atomic_using_tenant"] = "rolled back" if gone else "kept"
