"""The Postgres store through a transaction pooler (PgBouncer in transaction mode, what Supabase's pooler
on port 6543 is): migrations, concurrent outcomes, claims, intake and attempt closing all keep working
when consecutive transactions of one client land on different server sessions."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from healing_mcp.models import IssueState
from healing_mcp.store.migrate import apply_postgres, postgres_status
from healing_mcp.store.postgres import PostgresStore

from . import pgtools
from ._writer import outcome_for
from .conftest import PgDatabase
from .factories import at, audit, batch, group, issue_id, outcome

SERVER_CONNECTIONS = 2  # fewer than the clients below: server sessions are shared between them


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer")
    if found:
        return found
    return next((p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def pooler(pg_empty_db: PgDatabase) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of a fresh database; yields the pooler's DATABASE_URL."""
    binary = pgbouncer_binary()
    if binary is None:
        pytest.skip("pgbouncer is not installed (./scripts/test installs the Debian package when run as root)")
    workdir = Path(tempfile.mkdtemp(prefix="healing-pgbouncer-"))
    workdir.chmod(0o755)  # as root, pgbouncer drops to an unprivileged user that must read these files
    port = free_port()
    (workdir / "users.txt").write_text(f'"{pgtools.OWNER}" ""\n')
    config = workdir / "pgbouncer.ini"
    config.write_text(
        f"[databases]\n{pg_empty_db.name} = host={pgtools.HOST} port={pgtools.PORT} dbname={pg_empty_db.name}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    for path in workdir.iterdir():
        path.chmod(0o644)
    command = [binary, str(config)]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        command[1:1] = ["-u", "nobody"]
    log = (workdir / "pgbouncer.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.fail(f"pgbouncer exited: {(workdir / 'pgbouncer.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"pgbouncer did not listen: {(workdir / 'pgbouncer.log').read_text()[-2000:]}")
                time.sleep(0.1)
        yield f"postgresql://{pgtools.OWNER}@127.0.0.1:{port}/{pg_empty_db.name}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_the_store_works_through_a_transaction_pooler(pooler: str) -> None:
    # it really is transaction pooling: three open client sessions share two server sessions
    clients = [await psycopg.AsyncConnection.connect(pooler, autocommit=True, prepare_threshold=None) for _ in range(3)]
    try:
        pids = set()
        for conn in clients:
            cur = await asyncio.wait_for(conn.execute("select pg_backend_pid()"), timeout=20)
            row = await cur.fetchone()
            assert row is not None
            pids.add(row[0])
        assert len(pids) <= SERVER_CONNECTIONS
    finally:
        for conn in clients:
            await conn.close()

    applied, _ = await apply_postgres(pooler)
    assert applied and (await postgres_status(pooler)).up_to_date
    assert await apply_postgres(pooler) == ([], applied), "applying again is a no-op"

    stores = [PostgresStore(pooler, max_size=3) for _ in range(6)]
    for store in stores:
        await store.open()
    try:
        # concurrent outcomes, with replays of each other's: counted exactly once each
        async def writer(i: int) -> None:
            for n in range(120):
                await stores[i].record_outcome(outcome_for(i, n))
                if n % 10 == 0:
                    await stores[i].record_outcome(outcome_for((i + 1) % len(stores), n))

        await asyncio.gather(*(writer(i) for i in range(len(stores))))
        insights = await stores[0].memory_insights()
        assert insights.successes + insights.failures == len(stores) * 120

        # concurrent intake over the same issues (row locks, compare-and-swap), then disjoint claims
        async def intake(i: int) -> None:
            for round_ in range(5):
                await stores[i].commit_intake(batch(*(group(f"p{k}", first=k) for k in range(12))), now=at(round_))

        await asyncio.gather(*(intake(i) for i in range(len(stores))))
        issue = await stores[0].get_issue(issue_id("p3"))
        assert issue is not None and issue.occurrences == len(stores) * 5

        async def claim_all(i: int) -> list[str]:
            got: list[str] = []
            while claimed := await stores[i].claim_issues([IssueState.open], 2, f"holder-{i}", 60):
                got.extend(c.id for c in claimed)
            return got

        claims = await asyncio.gather(*(claim_all(i) for i in range(3)))
        flat = [c for got in claims for c in got]
        assert sorted(flat) == sorted({issue_id(f"p{k}") for k in range(12)}), "each issue claimed once"
        assert not await stores[4].acquire_lease(f"issue:{flat[0]}", "intruder", 60)

        # closing an attempt: the advisory lock is transaction-scoped, so it works through the pooler
        await stores[1].append_audit(audit("att-p", "started", "iss_p", time=1))
        await stores[2].append_audit(audit("att-p", "interrupted", "iss_p", time=2))
        late = audit("att-p", "finished", "iss_p", time=3).model_copy(update={"successful": True})
        await stores[3].finish_attempt(late, outcome("att-p", "sig-p", "fix-p", True, time=3))
        assert await stores[0].best_fixes("sig-p") == []
    finally:
        for store in stores:
            await store.close()
