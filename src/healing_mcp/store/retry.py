"""Retrying a write that lost a race (serialization failure, deadlock, a compare-and-swap that saw a newer
row): one policy, from tenacity, for every remote store.

Contenders wait a random time up to ``first_wait * 2**attempt`` (at most half a second) so they spread
out instead of colliding again; after the last attempt the failure is raised as it came.
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

CONFLICT_ATTEMPTS = 31  # a hot row under 8+ concurrent writers needs more than a handful


def on_conflict(is_conflict: Callable[[BaseException], bool], *, first_wait: float) -> AsyncRetrying:
    """``async for attempt in on_conflict(...): with attempt: ...`` retries the block on a conflict."""
    return AsyncRetrying(
        retry=retry_if_exception(is_conflict),
        wait=wait_random_exponential(multiplier=first_wait, max=0.5),
        stop=stop_after_attempt(CONFLICT_ATTEMPTS),
        reraise=True,
    )
