"""A transaction that loses a race is retried, on the real PostgreSQL: a serialization failure provoked
by a concurrent writer, not a simulated one."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from healing_mcp.errors import StoreError
from healing_mcp.store.postgres import PostgresStore
from tests.store.conftest import PgDatabase


async def test_a_serialization_failure_is_retried_until_the_transaction_commits(pg_db: PgDatabase) -> None:
    async with await psycopg.AsyncConnection.connect(pg_db.url, autocommit=True) as rival:
        await rival.execute("create table counter (n int not null)")
        await rival.execute("insert into counter values (0)")
        store = PostgresStore(pg_db.url, max_size=2, connect_timeout=5)
        await store.open()
        runs = 0

        async def increment(conn: Any) -> int:
            nonlocal runs
            runs += 1
            await conn.execute("set transaction isolation level serializable")
            row = await (await conn.execute("select n from counter")).fetchone()
            if runs == 1:  # a concurrent writer commits after this transaction read the row
                await rival.execute("update counter set n = n + 100")
            await conn.execute("update counter set n = %s", (row["n"] + 1,))
            return int(row["n"]) + 1

        try:
            assert await store._run(increment, transaction=True) == 101
        finally:
            await store.close()
        assert runs == 2  # the first run failed with 40001 and was retried
        final = await (await rival.execute("select n from counter")).fetchone()
        assert final is not None and final[0] == 101  # the rival's write survived: nothing was lost


async def test_other_errors_are_not_retried(pg_db: PgDatabase) -> None:
    store = PostgresStore(pg_db.url, max_size=2, connect_timeout=5)
    await store.open()
    runs = 0

    async def broken(conn: Any) -> None:
        nonlocal runs
        runs += 1
        await conn.execute("select * from no_such_table")

    try:
        with pytest.raises(StoreError):
            await store._run(broken)
    finally:
        await store.close()
    assert runs == 1
