"""Intake watermarks on a shared store: keyed by the events directory's identity as well as the path, so
replicas with their own directory at the same path do not reset each other; moved by compare-and-swap,
so two readers of one file never count a line twice; and the path-only keys of earlier versions still
count."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from healing_mcp.components.registry import Registry
from healing_mcp.core import intake as intake_module
from healing_mcp.core.intake import SOURCE_ID_FILE, Intake, legacy_source_key
from healing_mcp.store.base import IssueQuery, Store

from .conftest import StoreFactory

pytestmark = pytest.mark.parametrize("store_kind", ["sqlite", "postgres", "supabase"])


def event(target: str, n: int) -> str:
    return json.dumps({"component": "files", "kind": "missing_file", "target": target, "message": f"#{n}"}) + "\n"


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.writelines(lines)
    return path


async def occurrences(store: Store) -> dict[str, int]:
    page = await store.query_issues(IssueQuery())
    return {str(i.target): i.occurrences for i in page.issues}


async def test_hosts_with_their_own_directory_at_one_path_keep_their_own_watermarks(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    """Two containers each mount their own events directory at the same path (here: the same path, used in
    turn by two directories) and share one store."""
    store = store_factory.make()
    await store.open()
    events = tmp_path / "events"
    try:
        write(events / "app.jsonl", event("host-a", 1))
        assert (await Intake(store, Registry(), events).ingest_files()).events == 1
        events.rename(tmp_path / "events-a")

        write(events / "app.jsonl", event("host-b", 1), event("host-b", 2))
        assert (await Intake(store, Registry(), events).ingest_files()).events == 2
        events.rename(tmp_path / "events-b")

        (tmp_path / "events-a").rename(events)  # host A again, after a restart: same directory, same id
        assert (await Intake(store, Registry(), events).ingest_files()).events == 0
        write(events / "app.jsonl", event("host-a", 2))
        assert (await Intake(store, Registry(), events).ingest_files()).events == 1
        assert await occurrences(store) == {"host-a": 2, "host-b": 2}
    finally:
        await store.close()


async def test_the_directory_keeps_its_identity(store_factory: StoreFactory, tmp_path: Path) -> None:
    store = store_factory.make()
    await store.open()
    events = tmp_path / "events"
    try:
        write(events / "a.jsonl", event("t", 1))
        running = Intake(store, Registry(), events)
        assert (await running.ingest_files()).events == 1
        identity = (events / SOURCE_ID_FILE).read_text().strip()
        assert identity and await store.get_watermark(running.source_key(str((events / "a.jsonl").resolve())))

        (events / SOURCE_ID_FILE).unlink()  # removed while the process runs: written back with the same id
        write(events / "a.jsonl", event("t", 2))
        assert (await running.ingest_files()).events == 1
        assert (events / SOURCE_ID_FILE).read_text().strip() == identity
        assert (await Intake(store, Registry(), events).ingest_files()).events == 0  # a restart reads nothing
        assert await occurrences(store) == {"t": 2}
    finally:
        await store.close()


async def test_watermarks_of_earlier_versions_still_count(
    store_factory: StoreFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_factory.make()
    await store.open()
    events = tmp_path / "events"
    path = write(events / "app.jsonl", event("t", 1), event("t", 2))
    try:
        with monkeypatch.context() as earlier:  # an earlier version: watermarks keyed by the path only
            earlier.setattr(intake_module, "source_identity", lambda *_: None)
            assert (await Intake(store, Registry(), events).ingest_files()).events == 2
        legacy = legacy_source_key(str(path.resolve()))
        assert (await store.get_watermark(legacy)) is not None

        upgraded = Intake(store, Registry(), events)
        assert not await upgraded.pending()
        assert (await upgraded.ingest_files()).events == 0, "nothing read again after the upgrade"
        write(path, event("t", 3))
        assert (await upgraded.ingest_files()).events == 1
        mark = await store.get_watermark(upgraded.source_key(str(path.resolve())))
        assert mark is not None and mark.offset == path.stat().st_size, "moved to the new key"
        assert await occurrences(store) == {"t": 3}
    finally:
        await store.close()


async def test_two_readers_of_one_file_count_each_line_once(store_factory: StoreFactory, tmp_path: Path) -> None:
    """Two processes reading the same directory at once (a shared volume, or a reader whose pass outlived
    its lease): the watermark compare-and-swap lets one of them commit each batch."""
    stores = [store_factory.make(), store_factory.make()]
    for store in stores:
        await store.open()
    events = tmp_path / "events"
    write(events / "app.jsonl", *(event(f"t{n % 10}", n) for n in range(300)))
    try:
        readers = [Intake(store, Registry(), events, batch_lines=7) for store in stores]
        summaries = await asyncio.gather(*(r.ingest_files() for r in readers))
        assert sum(s.events for s in summaries) == 300
        counts = await occurrences(stores[0])
        assert sum(counts.values()) == 300 and set(counts) == {f"t{k}" for k in range(10)}
        assert (await stores[0].intake_stats()).events_seen == 300
        assert not any([await r.pending() for r in readers])
    finally:
        for store in stores:
            await store.close()
