"""Many supervisors on one Postgres, and a database that goes away mid-run: the loop, not just the store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client import Client

from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings, load_settings
from healing_mcp.core.engine import Engine
from healing_mcp.models import Environment, HealthState, IssueState, SystemHealthReport
from healing_mcp.store import create_store
from healing_mcp.store.postgres import PostgresStore
from healing_mcp.store.spool import SpoolingStore
from tests.conftest import missing_file_event, write_events
from tests.plugins.files_component import FilesComponent
from tests.server.support import TOOLS, server_env, start_http_server

from . import pgtools
from .conftest import PgDatabase
from .tcp_proxy import TcpProxy


def settings_for(tmp_path: Path, name: str, url: str, events_dir: Path) -> Settings:
    return load_settings(
        tmp_path / "absent.toml",
        home=tmp_path / name,
        events_dir=events_dir,
        database_url=url,
        env=Environment.dev,
        llm="off",
        project_root=tmp_path,
    )


def engine_with(settings: Settings, store: Any, files: FilesComponent) -> Engine:
    registry = Registry()
    registry.register(files)
    return Engine(settings, store, registry)


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

    async def keep_supervising(engine: Engine) -> None:
        for _ in range(40):
            await engine.run_supervisor(max_fixes=100)
            report = await engine.report(states=[IssueState.open, IssueState.fixing], refresh=False)
            if report.issues_matching == 0 and report.counts.total == 100:
                return
            await asyncio.sleep(0.05)

    await asyncio.gather(*(keep_supervising(e) for e in engines))
    try:
        assert sum(f.calls["apply"] for f in files) == 100, "no fix applied twice, none skipped"
        assert all(t.exists() for t in targets)
        audit = await engines[0].audit(limit=1000)
        started = [e.issue_id for e in audit if e.phase == "started"]
        assert len(started) == 100 and len(set(started)) == 100
        report = await engines[1].report(refresh=False, limit=1)
        assert report.counts.by_state == {"resolved": 100}
        assert report.counts.total == 100, "every event ingested once, into one issue per file"
    finally:
        for engine in engines:
            await engine.aclose()


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
