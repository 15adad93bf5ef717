"""Where element fingerprints live between runs: a small SQLite file next to the rest of healing-mcp's data.

One row per (page, selector): the page is the URL's origin and path (query and fragment dropped, so
``/orders?id=7`` and ``/orders?id=8`` share their selectors), the selector is the full Playwright selector
string the agent used. Each row keeps the latest fingerprint, when it was first and last seen, and how
many times it was recorded.

Two small tables sit next to it:

- ``effects``: what a successful action did, per (page, selector, action), e.g. ``{"url": ".../dashboard"}``
  for a click that navigated. It becomes the step's post-condition when the same action later fails, so a
  retest (or an inline heal) can check the replacement does what the original did.
- ``origins``: every origin the wrapper saw the agent work on. Fix attempts and retests only navigate to
  these (and loopback, and what ``allowed_origins`` adds): a failure reported by a caller cannot make the
  browser open an arbitrary address.

Several agent processes may record at once: the database runs in WAL mode with a busy timeout and every
write is a single upsert statement, so concurrent writers queue instead of failing. Only the standard
library is used, so the store is cheap to open from inside an agent.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from healing_mcp.components.browser.fingerprint import ElementFingerprint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fingerprints (
    page_key    TEXT NOT NULL,
    selector    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    seen_count  INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (page_key, selector)
);
CREATE INDEX IF NOT EXISTS fingerprints_selector ON fingerprints (selector);
CREATE TABLE IF NOT EXISTS effects (
    page_key    TEXT NOT NULL,
    selector    TEXT NOT NULL,
    action      TEXT NOT NULL,
    effect      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (page_key, selector, action)
);
CREATE TABLE IF NOT EXISTS origins (
    origin      TEXT PRIMARY KEY,
    last_seen   TEXT NOT NULL
);
"""


def default_fingerprint_path() -> Path:
    return Path(os.environ.get("HEALING_HOME", ".healing")) / "browser" / "fingerprints.db"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased; "" for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def page_key(url: str) -> str:
    """Origin + path of a URL: the part that identifies "the same page" across visits.

    URLs without an origin (``about:blank``, ``data:``) are kept whole minus any query or fragment.
    """
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "file") or parts.netloc:
        path = parts.path or "/"
        return f"{parts.scheme}://{parts.netloc}{path}"
    return url.split("?", 1)[0].split("#", 1)[0]


@dataclass(frozen=True)
class StoredFingerprint:
    page_key: str
    selector: str
    fingerprint: ElementFingerprint
    first_seen: datetime
    last_seen: datetime
    seen_count: int

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.last_seen).total_seconds()


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(row: tuple[str, str, str, str, str, int]) -> StoredFingerprint:
    key, selector, data, first, last, count = row
    return StoredFingerprint(
        page_key=key,
        selector=selector,
        fingerprint=ElementFingerprint.model_validate(json.loads(data)),
        first_seen=_parse_time(first),
        last_seen=_parse_time(last),
        seen_count=int(count),
    )


_COLUMNS = "page_key, selector, fingerprint, first_seen, last_seen, seen_count"


class FingerprintStore:
    """Fingerprints keyed by (page origin + path, selector). Opened lazily on first use."""

    def __init__(self, path: Path | str | None = None, *, busy_timeout_seconds: float = 10.0) -> None:
        self.path = Path(path) if path is not None else default_fingerprint_path()
        self._busy_timeout = busy_timeout_seconds
        self._conn: sqlite3.Connection | None = None
        # One connection shared by the threads of this process; sqlite3 objects are not thread-safe.
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connect()

    def get(self, page: str, selector: str) -> StoredFingerprint | None:
        """The fingerprint recorded for ``selector`` on ``page`` (a URL or a :func:`page_key`)."""
        with self._cursor() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM fingerprints WHERE page_key = ? AND selector = ?",  # noqa: S608
                (page_key(page), selector),
            ).fetchone()
        return _row(row) if row else None

    def put(
        self, page: str, selector: str, fingerprint: ElementFingerprint, *, now: datetime | None = None
    ) -> StoredFingerprint:
        """Record (or refresh) the fingerprint of ``selector`` on ``page``; counts one more sighting."""
        stamp = (now or datetime.now(UTC)).isoformat()
        data = fingerprint.model_dump_json()
        key = page_key(page)
        with self._cursor() as conn:
            # A single upsert statement is atomic, so concurrent writers never lose a count. (No RETURNING:
            # it needs SQLite 3.35, older than some Python builds still ship.)
            conn.execute(
                "INSERT INTO fingerprints (page_key, selector, fingerprint, first_seen, last_seen, seen_count) "
                "VALUES (?, ?, ?, ?, ?, 1) "
                "ON CONFLICT (page_key, selector) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "last_seen = excluded.last_seen, seen_count = fingerprints.seen_count + 1",
                (key, selector, data, stamp, stamp),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM fingerprints WHERE page_key = ? AND selector = ?",  # noqa: S608
                (key, selector),
            ).fetchone()
        return _row(row)

    def for_page(self, page: str) -> list[StoredFingerprint]:
        """Every fingerprint recorded on one page, most recently seen first."""
        with self._cursor() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM fingerprints WHERE page_key = ? ORDER BY last_seen DESC",  # noqa: S608
                (page_key(page),),
            ).fetchall()
        return [_row(r) for r in rows]

    def for_selector(self, selector: str) -> list[StoredFingerprint]:
        """Every page where ``selector`` was recorded, most recently seen first."""
        with self._cursor() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM fingerprints WHERE selector = ? ORDER BY last_seen DESC",  # noqa: S608
                (selector,),
            ).fetchall()
        return [_row(r) for r in rows]

    def put_effect(self, page: str, selector: str, action: str, effect: dict[str, object]) -> None:
        """Remember what a successful ``action`` on ``selector`` did (see the module docstring)."""
        stamp = datetime.now(UTC).isoformat()
        with self._cursor() as conn:
            conn.execute(
                "INSERT INTO effects (page_key, selector, action, effect, recorded_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (page_key, selector, action) DO UPDATE SET effect = excluded.effect, "
                "recorded_at = excluded.recorded_at",
                (page_key(page), selector, action, json.dumps(effect, sort_keys=True), stamp),
            )

    def get_effect(self, page: str, selector: str, action: str) -> dict[str, object] | None:
        with self._cursor() as conn:
            row = conn.execute(
                "SELECT effect FROM effects WHERE page_key = ? AND selector = ? AND action = ?",
                (page_key(page), selector, action),
            ).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def add_origin(self, url: str) -> None:
        """Record the origin of ``url`` as one the agent works on (http and https only)."""
        origin = origin_of(url)
        if not origin:
            return
        with self._cursor() as conn:
            conn.execute(
                "INSERT INTO origins (origin, last_seen) VALUES (?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET last_seen = excluded.last_seen",
                (origin, datetime.now(UTC).isoformat()),
            )

    def origins(self) -> set[str]:
        with self._cursor() as conn:
            return {str(origin) for (origin,) in conn.execute("SELECT origin FROM origins")}

    def delete(self, page: str, selector: str) -> bool:
        with self._cursor() as conn:
            cur = conn.execute(
                "DELETE FROM fingerprints WHERE page_key = ? AND selector = ?", (page_key(page), selector)
            )
        return cur.rowcount > 0

    def count(self) -> int:
        with self._cursor() as conn:
            (n,) = conn.execute("SELECT COUNT(*) FROM fingerprints").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> FingerprintStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
