"""One concurrent writer process for the store concurrency tests.

    python tests/store/_writer.py KIND TARGET WRITER COUNT GO_FILE

KIND is sqlite (TARGET a file) or postgres (TARGET a DATABASE_URL). Waits for GO_FILE to exist so all
writers start together, records COUNT outcomes (see ``outcome_for``) plus replays of some of the next
writer's outcomes, and prints a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from healing_mcp.store.base import OutcomeRecord, Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WRITERS = 8


def outcome_for(writer: int, n: int) -> OutcomeRecord:
    """The n-th outcome of a writer. Deterministic, so a replay by another writer is identical."""
    return OutcomeRecord(
        outcome_id=f"w{writer}-{n}",
        issue_signature=f"sig{n % 7}",
        fix_signature=f"fix{(n + writer) % 5}",
        component="browser",
        strategy="regenerate_selector",
        params={"n": (n + writer) % 5},
        success=(n * 7 + writer) % 3 != 0,
        time=T0 + timedelta(seconds=n, microseconds=writer),
    )


def replays_of(writer: int, count: int) -> list[tuple[int, int]]:
    """Outcomes of the next writer this one records again (overlapping, idempotent)."""
    return [((writer + 1) % WRITERS, n) for n in range(0, count, 25)]


async def run(kind: str, target: str, writer: int, count: int) -> dict[str, int]:
    store: Store
    if kind == "sqlite":
        from healing_mcp.store.sqlite import SQLiteStore

        store = SQLiteStore(target)
    else:
        from healing_mcp.store.postgres import PostgresStore

        store = PostgresStore(target, max_size=2)
    await store.open()
    try:
        plan = [(writer, n) for n in range(count)]
        replays = replays_of(writer, count)
        # interleave the replays with the writer's own outcomes
        step = max(1, len(plan) // max(1, len(replays)))
        for k, item in enumerate(replays):
            plan.insert(min(len(plan), k * (step + 1)), item)
        for w, n in plan:
            await store.record_outcome(outcome_for(w, n))
    finally:
        await store.close()
    return {"writer": writer, "recorded": len(plan)}


def main() -> None:
    kind, target, writer, count, go = sys.argv[1:6]
    while not Path(go).exists():  # start together with the other writers
        time.sleep(0.01)
    started = time.monotonic()
    summary = asyncio.run(run(kind, target, int(writer), int(count)))
    summary["seconds"] = round(time.monotonic() - started, 2)  # type: ignore[assignment]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
