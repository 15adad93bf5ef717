"""Fixtures for the store tests: real PostgreSQL databases (one per test), the PostgREST stand-in, and a
``store`` fixture parametrized over the three stores so one contract suite runs against each."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from healing_mcp.store.base import Store
from healing_mcp.store.migrate import apply_postgres
from healing_mcp.store.postgres import PostgresStore
from healing_mcp.store.sqlite import SQLiteStore
from healing_mcp.store.supabase import SupabaseStore

from . import pgtools
from .postgrest_standin import PostgrestStandIn, make_key

SUPABASE_URL = "http://standin.supabase.test"


@pytest.fixture(autouse=True)
def _no_store_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment first: keep a developer's DATABASE_URL out of the tests."""
    for name in (
        "DATABASE_URL",
        "HEALING_DATABASE_URL",
        "SUPABASE_URL",
        "HEALING_SUPABASE_URL",
        "SUPABASE_SERVICE_ROLE_KEY",
        "HEALING_SUPABASE_SERVICE_ROLE_KEY",
        "HEALING_ENV",
        "HEALING_HOME",
    ):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Templates:
    emulated: str  # Supabase emulation, no healing-mcp schema
    migrated: str  # emulation + every migration


@pytest.fixture(scope="session")
def pg_templates() -> Iterator[Templates]:
    pgtools.ensure_roles()
    emulated = pgtools.new_name("healing_tpl_e")
    migrated = pgtools.new_name("healing_tpl_m")
    pgtools.create_database(emulated)
    try:
        pgtools.emulate_supabase(emulated)
        pgtools.create_database(migrated, template=emulated)
        try:
            asyncio.run(apply_postgres(pgtools.url(migrated)))
            yield Templates(emulated=emulated, migrated=migrated)
        finally:
            pgtools.drop_database(migrated)
    finally:
        pgtools.drop_database(emulated)


@dataclass
class PgDatabase:
    name: str

    @property
    def url(self) -> str:
        """The owner's connection string (what DATABASE_URL holds on Supabase: the postgres role)."""
        return pgtools.url(self.name)

    @property
    def authenticator_url(self) -> str:
        return pgtools.url(self.name, "authenticator")


@pytest.fixture
def pg_db(pg_templates: Templates) -> Iterator[PgDatabase]:
    """A fresh, migrated database for this test only."""
    with pgtools.database(template=pg_templates.migrated) as name:
        yield PgDatabase(name)


@pytest.fixture
def pg_empty_db(pg_templates: Templates) -> Iterator[PgDatabase]:
    """A fresh database with Supabase's roles and auth schema emulated, but no healing-mcp schema."""
    with pgtools.database(template=pg_templates.emulated) as name:
        yield PgDatabase(name)


@pytest.fixture
async def standin(pg_db: PgDatabase) -> AsyncIterator[PostgrestStandIn]:
    transport = PostgrestStandIn(pg_db.authenticator_url)
    yield transport
    await transport.aclose()


def supabase_store(transport: httpx.AsyncBaseTransport, key: str | None = None, timeout: float = 30.0) -> SupabaseStore:
    client = httpx.AsyncClient(transport=transport, timeout=timeout)
    return SupabaseStore(SUPABASE_URL, key or make_key("service_role"), http_client=client, timeout=timeout)


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``healing-mcp ARGS`` in a fresh process, with only ``env`` configuring the store."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HEALING_", "DATABASE_URL", "SUPABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "healing_mcp", *args],
        env={**clean, "HEALING_HOME": str(tmp_path / "home"), "HEALING_ENV": "dev", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class StoreFactory:
    """Makes independent store instances (own connection pool / HTTP client) on one backing database."""

    kind: str
    tmp_path: Path
    db: PgDatabase | None
    transport: PostgrestStandIn | None

    def make(self) -> Store:
        if self.kind == "sqlite":
            return SQLiteStore(self.tmp_path / "healing.db")
        if self.kind == "postgres":
            assert self.db is not None
            return PostgresStore(self.db.url, max_size=4, connect_timeout=5)
        assert self.transport is not None
        return supabase_store(self.transport)


@pytest.fixture
def store_factory(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreFactory:
    db: PgDatabase | None = None
    transport: PostgrestStandIn | None = None
    if store_kind in ("postgres", "supabase"):
        db = request.getfixturevalue("pg_db")
    if store_kind == "supabase":
        transport = request.getfixturevalue("standin")
    return StoreFactory(store_kind, tmp_path, db, transport)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    instance = store_factory.make()
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()
