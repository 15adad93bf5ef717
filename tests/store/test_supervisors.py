"""Many supervisors on one Postgres, and a database that goes away mid-run: the loop, not just the store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client import Client

from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings, load_settings
from healing_mcp.core import supervisor as supervisor_module
from healing_mcp.core.engine import Engine
from healing_mcp.models import (
    AutoFixResult,
    Environment,
    HealthState,
    IssueState,
    SupervisorRunResult,
    SystemHealthReport,
    utcnow,
)
from healing_mcp.store import create_store, issue_lease_key
from healing_mcp.store.base import LATE_DETAIL
from healing_mcp.store.postgres import PostgresStore
from healing_mcp.store.spool import SpoolingStore
from tests.conftest import missing_file_event, write_events
from tests.plugins.files_component import FilesComponent
from tests.server.support import TOOLS, server_env, start_http_server

from . import pgtools
from .conftest import PgDatabase
from .tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


def settings_for(tmp_path: Path, name: str, url: str | None, events_dir: Path, lease_seconds: float = 300) -> Settings:
    """Settings of one supervisor; ``url=None`` means the embedded SQLite store in its home."""
    settings = load_settings(
        tmp_path / "absent.toml",
        home=tmp_path / name,
        events_dir=events_dir,
        env=Environment.dev,
        llm="off",
        project_root=tmp_path,
        **({"database_url": url} if url is not None else {}),
    )
    settings.supervisor.lease_seconds = lease_seconds
    return settings


def engine_with(settings: Settings, store: Any, files: FilesComponent) -> Engine:
    registry = Registry()
    registry.register(files)
    return Engine(settings, store, registry)


async def open_engine(settings: Settings, files: FilesComponent) -> Engine:
    store = create_store(settings)
    await store.open()
    return engine_with(settings, store, files)


async def until(check: Callable[[], Awaitable[bool]], what: str, tries: int = 150) -> None:
    """Poll ``check`` (a store-side condition such as an expired lease) a bounded number of times."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def phases(entries: list[Any], attempt_id: str) -> list[str]:
    return [e.phase for e in entries if e.attempt_id == attempt_id]


async def test_two_supervisors_attempt_every_fix_exactly_once(pg_db: PgDatabase, tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    targets = [tmp_path / "configs" / f"{i}.json" for i in range(100)]
    write_events(events_dir, [missing_file_event(t, i) for i, t in enumerate(targets)])
    files = [FilesComponent(), FilesComponent()]
    engines = []
    for name, component in zip(("a", "b"), files, strict=True):
        settings = settings_for(tmp_path, name, pg_db.url, events_dir)
        store = create_store(settings)
        await store.open()
        engines.append(engine_with(settings, store, component))

    runs: list[list[SupervisorRunResult]] = [[], []]

    async def keep_supervising(engine: Engine, results: list[SupervisorRunResult]) -> None:
        for _ in range(40):
            results.append(await engine.run_supervisor(max_fixes=100))
            report = await engine.report(states=[IssueState.open, IssueState.fixing], refresh=False)
            if report.issues_matching == 0 and report.counts.total == 100:
                return
            await asyncio.sleep(0.05)

    await asyncio.gather(*(keep_supervising(e, r) for e, r in zip(engines, runs, strict=True)))
    try:
        for results in runs:
            assert results, "each supervisor ran"
            assert all(r.errors == [] and r.store_degraded is None for r in results)
            waited = any("Another supervisor pass is running" in r.summary for r in results)
            worked = any(o.result is not None for r in results for o in r.outcomes)
            assert waited or worked, "a supervisor either took its turn or was told another pass is running"
        assert sum(f.calls["apply"] for f in files) == 100, "no fix applied twice, none skipped"
        assert all(t.exists() for t in targets)
        audit = await engines[0].audit(limit=1000)
        started = [e.issue_id for e in audit if e.phase == "started"]
        assert len(started) == 100 and len(set(started)) == 100
        finished = [e.issue_id for e in audit if e.phase == "finished"]
        assert sorted(finished) == sorted(started) and not any(e.phase == "interrupted" for e in audit)
        report = await engines[1].report(refresh=False, limit=1)
        assert report.counts.by_state == {"resolved": 100}
        assert report.counts.total == 100, "every event ingested once, into one issue per file"
    finally:
        for engine in engines:
            await engine.aclose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("first", ["pass", "auto_fix"])
async def test_a_pass_and_an_auto_fix_in_one_process_apply_a_fix_once(
    backend: str, first: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """One HTTP replica serving healing_run_supervisor and healing_auto_fix for the same issue at once:
    one engine, one Supervisor. Whichever claims the issue first applies the fix; the other is refused,
    and releases nothing it does not hold."""
    url = request.getfixturevalue("pg_db").url if backend == "postgres" else None
    events_dir = tmp_path / "events"
    write_events(events_dir, [missing_file_event(tmp_path / "configs" / "x.json", 1)])
    files = FilesComponent()
    engine = await open_engine(settings_for(tmp_path, "replica", url, events_dir), files)
    applying, proceed = asyncio.Event(), asyncio.Event()

    async def hold(_: Any) -> None:
        if not applying.is_set():  # only the first apply waits; a second one would be the bug
            applying.set()
            await proceed.wait()

    files.on_apply = hold
    try:
        await engine.report(refresh=True)
        (issue,) = (await engine.report(states=[IssueState.open], refresh=False)).issues
        calls: dict[str, Callable[[], Coroutine[Any, Any, SupervisorRunResult | AutoFixResult]]] = {
            "pass": lambda: engine.run_supervisor(),
            "auto_fix": lambda: engine.auto_fix(issue_id=issue.id),
        }
        running = asyncio.create_task(calls[first]())
        await applying.wait()
        other = await calls["auto_fix" if first == "pass" else "pass"]()
        assert not await engine.store.acquire_lease(issue_lease_key(issue.id), "intruder", 60), (
            "the claim of the call that is applying survived the refused one"
        )
        proceed.set()
        done = await running

        assert files.calls["apply"] == 1
        if isinstance(other, AutoFixResult):
            assert not other.healed and "working on this issue" in other.summary
            assert isinstance(done, SupervisorRunResult) and done.resolved == [issue.id]
        else:
            assert "working on this issue" in other.skipped[issue.id] and other.outcomes == []
            assert isinstance(done, AutoFixResult) and done.healed
        audit = await engine.audit(issue_id=issue.id)
        assert [e.phase for e in audit] == ["started", "finished"], "not interrupted by the other call's recovery"
        (record,) = await engine.store.best_fixes(issue.signature)
        assert (record.successes, record.failures) == (1, 0)
    finally:
        await engine.aclose()


async def test_a_supervisor_whose_clock_runs_ahead_cannot_take_a_live_claim(
    pg_db: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_dir = tmp_path / "events"
    write_events(events_dir, [missing_file_event(tmp_path / "app.json", 1)])
    files_a, files_b = FilesComponent(), FilesComponent()
    a = await open_engine(settings_for(tmp_path, "a", pg_db.url, events_dir, lease_seconds=60), files_a)
    b = await open_engine(settings_for(tmp_path, "b", pg_db.url, events_dir, lease_seconds=60), files_b)
    applying, proceed = asyncio.Event(), asyncio.Event()

    async def hold(_: Any) -> None:
        if not applying.is_set():  # only the first apply waits; a second one would be the bug
            applying.set()
            await proceed.wait()

    files_a.on_apply = hold
    try:
        await a.report(refresh=True)
        (issue,) = (await a.report(refresh=False)).issues
        healing = asyncio.create_task(a.auto_fix(issue_id=issue.id))
        await applying.wait()
        real = utcnow
        monkeypatch.setattr(supervisor_module, "utcnow", lambda: real() + timedelta(hours=2))  # b's clock
        refused = await b.auto_fix(issue_id=issue.id)
        monkeypatch.undo()
        proceed.set()
        assert (await healing).healed
        assert not refused.healed and "working on this issue" in refused.summary
        assert (files_a.calls["apply"], files_b.calls["apply"]) == (1, 0)
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_slow_healthy_fix_keeps_its_claim(pg_db: PgDatabase, tmp_path: Path) -> None:
    """The claim is renewed while the fix runs, so another supervisor cannot take it after one lease."""
    lease = 3.0
    events_dir = tmp_path / "events"
    write_events(events_dir, [missing_file_event(tmp_path / "app.json", 1)])
    files_a, files_b = FilesComponent(), FilesComponent()
    a = await open_engine(settings_for(tmp_path, "a", pg_db.url, events_dir, lease_seconds=lease), files_a)
    b = await open_engine(settings_for(tmp_path, "b", pg_db.url, events_dir, lease_seconds=lease), files_b)
    applying, proceed = asyncio.Event(), asyncio.Event()

    async def slow(_: Any) -> None:
        applying.set()
        await proceed.wait()

    files_a.on_apply = slow
    try:
        await a.report(refresh=True)
        (issue,) = (await a.report(refresh=False)).issues
        healing = asyncio.create_task(a.auto_fix(issue_id=issue.id))
        await applying.wait()
        attempts: list[AutoFixResult] = []
        started = time.monotonic()
        while time.monotonic() - started < 2 * lease:  # well past the first lease's expiry
            attempts.append(await b.auto_fix(issue_id=issue.id))
            await asyncio.sleep(0.2)
        proceed.set()
        assert (await healing).healed
        assert attempts and all(not r.healed and "working on this issue" in r.summary for r in attempts)
        assert (files_a.calls["apply"], files_b.calls["apply"]) == (1, 0)
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_crashed_supervisors_attempt_is_interrupted_and_healed_once(pg_db: PgDatabase, tmp_path: Path) -> None:
    """A supervisor process dies in the middle of a fix (its fixer kills the process). The next supervisor,
    once the dead one's leases expire, closes the attempt as interrupted and applies the fix once."""
    events_dir = tmp_path / "events"
    target = tmp_path / "app.json"
    write_events(events_dir, [missing_file_event(target, 1)])
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HEALING_HOME": str(tmp_path / "dead"),
        "HEALING_EVENTS_DIR": str(events_dir),
        "DATABASE_URL": pg_db.url,
        "HEALING_ENV": "dev",
        "HEALING_LLM": "off",
        "HEALING_PLUGINS": "tests.plugins.files_component:component",
        "HEALING_ENABLED_COMPONENTS": "files",
        "HEALING_PROJECT_ROOT": str(tmp_path),
        "HEALING_SUPERVISOR__LEASE_SECONDS": "1",
        "FILES_COMPONENT_MODE": "exit",
    }
    crashed = subprocess.run(
        [sys.executable, "-m", "healing_mcp", "supervise", "--once", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 17, crashed.stderr[-2000:]
    assert not target.exists()

    files = FilesComponent()
    engine = await open_engine(settings_for(tmp_path, "alive", pg_db.url, events_dir, lease_seconds=1), files)
    try:
        (issue,) = (await engine.report(refresh=False)).issues
        assert issue.state is IssueState.fixing
        (dead,) = [e for e in await engine.audit(issue_id=issue.id) if e.phase == "started"]
        results: list[SupervisorRunResult] = []

        async def healed() -> bool:
            results.append(await engine.run_supervisor())
            return bool(results[-1].resolved)

        await until(healed, "the dead supervisor's claims expired and the issue was healed")
        assert all(r.errors == [] for r in results)
        assert files.calls["apply"] == 1 and target.exists()
        audit = await engine.audit(issue_id=issue.id)
        assert phases(audit, dead.attempt_id) == ["started", "interrupted"]
        assert [e.phase for e in audit if e.attempt_id != dead.attempt_id] == ["started", "finished"]
        (record,) = await engine.store.best_fixes(issue.signature)
        assert (record.successes, record.failures) == (1, 0), "the unknown outcome was not counted"
        assert (await engine.report(refresh=True)).counts.total == 1, "the events were not read twice"
    finally:
        await engine.aclose()


async def test_a_supervisor_cut_off_longer_than_its_lease_is_counted_once(pg_db: PgDatabase, tmp_path: Path) -> None:
    """A applies a fix and loses the database before recording it; its claims expire; B interrupts A's
    attempt and applies the fix itself. When A's spool is replayed, its late outcome is kept in the audit
    log but not counted: memory holds B's outcome only."""
    proxy = TcpProxy(pgtools.HOST, pgtools.PORT)
    await proxy.start()
    events_dir = tmp_path / "events"
    target = tmp_path / "app.json"
    write_events(events_dir, [missing_file_event(target, 1)])
    settings_a = settings_for(
        tmp_path, "a", pg_db.url.replace(f"{pgtools.HOST}:{pgtools.PORT}", f"127.0.0.1:{proxy.port}"), events_dir, 1
    )
    files_a, files_b = FilesComponent(), FilesComponent()

    async def partition(_: Any) -> None:
        await proxy.cut()

    async def elsewhere(_: Any) -> None:
        target.unlink(missing_ok=True)  # B's host has no copy of the file A created on its own

    files_a.on_apply, files_b.on_apply = partition, elsewhere
    assert settings_a.database_url is not None
    remote_a = PostgresStore(settings_a.database_url.get_secret_value(), connect_timeout=2)
    spool_a = SpoolingStore(remote_a, settings_a.home / "spool", retry_interval=0.2)
    await spool_a.open()
    a = engine_with(settings_a, spool_a, files_a)
    b = await open_engine(settings_for(tmp_path, "b", pg_db.url, events_dir, lease_seconds=1), files_b)
    try:
        cut_off = await a.run_supervisor()
        assert cut_off.store_degraded and cut_off.outcomes[0].successful
        (issue,) = (await b.report(refresh=False)).issues
        (a_attempt,) = [e for e in await b.audit(issue_id=issue.id) if e.phase == "started"]

        async def healed_by_b() -> bool:
            return bool((await b.run_supervisor()).resolved)

        await until(healed_by_b, "A's claims expired and B healed the issue")
        assert files_b.calls["apply"] == 1

        await proxy.restore()
        assert await spool_a.flush() == 0, "A's spool was replayed"
        audit = await b.audit(issue_id=issue.id)
        assert phases(audit, a_attempt.attempt_id) == ["started", "interrupted", "finished"]
        (late,) = [e for e in audit if e.attempt_id == a_attempt.attempt_id and e.phase == "finished"]
        assert late.successful and LATE_DETAIL in late.details
        assert [e.phase for e in audit if e.attempt_id != a_attempt.attempt_id] == ["started", "finished"]
        (record,) = await b.store.best_fixes(issue.signature)
        assert (record.successes, record.failures) == (1, 0), "A's late outcome was not counted again"
    finally:
        await a.aclose()
        await b.aclose()
        await proxy.stop()


async def test_database_lost_mid_run_is_spooled_and_replayed_once(pg_db: PgDatabase, tmp_path: Path) -> None:
    proxy = TcpProxy(pgtools.HOST, pgtools.PORT)
    await proxy.start()
    url = pg_db.url.replace(f"{pgtools.HOST}:{pgtools.PORT}", f"127.0.0.1:{proxy.port}")
    assert str(proxy.port) in url
    events_dir = tmp_path / "events"
    targets = [tmp_path / f"{i}.json" for i in range(3)]
    write_events(events_dir, [missing_file_event(t, i) for i, t in enumerate(targets)])
    settings = settings_for(tmp_path, "home", url, events_dir)
    files = FilesComponent()

    async def cut_once(_: Any) -> None:
        if files.calls["apply"] == 1:
            await proxy.cut()

    files.on_apply = cut_once
    store = SpoolingStore(PostgresStore(url, connect_timeout=2), settings.home / "spool", retry_interval=0.2)
    await store.open()
    engine = engine_with(settings, store, files)
    try:
        result = await engine.run_supervisor()
        assert result.overall is HealthState.degraded
        assert result.store_degraded and "spooled" in result.store_degraded
        (first,) = result.outcomes
        assert first.successful, "the fix itself worked; only its record could not reach the database"
        assert sum(t.exists() for t in targets) == 1, "the pass stopped at the outage"

        during = await engine.report()
        assert during.overall is HealthState.degraded and during.store_degraded

        await proxy.restore()
        await asyncio.sleep(0.3)
        second = await engine.run_supervisor()
        assert second.store_degraded is None
        assert sorted(second.resolved) == sorted(o.issue_id for o in second.outcomes)
        assert all(t.exists() for t in targets)

        audit = await engine.audit(limit=100)
        per_issue = [e for e in audit if e.issue_id == first.issue_id and e.phase == "finished"]
        assert len(per_issue) == 1, "the spooled audit entry was replayed exactly once"
        (record,) = await engine.store.best_fixes(first.issue_signature)
        assert (record.successes, record.failures) == (1, 0), "the spooled outcome counted exactly once"
        issue = await engine.get_issue(first.issue_id)
        assert issue.state is IssueState.resolved
        final = await engine.report(refresh=False)
        assert final.overall is HealthState.healthy and final.counts.by_state == {"resolved": 3}
    finally:
        await engine.aclose()
        await proxy.stop()


async def test_stateless_http_replicas_share_one_database(pg_db: PgDatabase, tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    replicas = []
    for name in ("r1", "r2"):
        home = tmp_path / name
        env = server_env(home, DATABASE_URL=pg_db.url, HEALING_ENV="dev", HEALING_EVENTS_DIR=str(events_dir))
        replicas.append(start_http_server(home, "--transport", "streamable-http", "--stateless", env=env))
    try:
        target = tmp_path / "app.json"
        async with Client(replicas[0].mcp_url) as first, Client(replicas[1].mcp_url) as second:
            healed = await first.call_tool(
                TOOLS["auto_fix"],
                {
                    "failure": {
                        "component": "files",
                        "symptom": "missing_file",
                        "target": str(target),
                        "context": {"default": {"replica": 1}},
                    }
                },
            )
            assert not healed.is_error and healed.structured_content["healed"]
            seen = await second.call_tool(TOOLS["report"], {"refresh": False})
            report = SystemHealthReport.model_validate(seen.structured_content)
            assert [(i.target, i.state) for i in report.issues] == [(str(target), IssueState.resolved)]
            assert report.store.startswith("postgres")
        for replica in replicas:
            response = httpx.get(f"{replica.base}/healthz", timeout=5)
            assert response.json() == {"status": "ok"}
    finally:
        for replica in replicas:
            replica.stop()
    for replica in replicas:
        assert "Traceback" not in replica.stderr()
    assert target.exists()


pytestmark = pytest.mark.timeout(300)
