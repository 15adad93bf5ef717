"""Intake: JSONL files and the Python API into issues, each event counted exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from healing_mcp.components.base import Component
from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings
from healing_mcp.core.intake import Intake
from healing_mcp.events import report_event
from healing_mcp.models import Event, HealthIssue, Observation
from healing_mcp.store.base import IntakeBatch, IssueQuery
from healing_mcp.store.sqlite import SQLiteStore
from tests.conftest import missing_file_event, write_events


class CrashAfter(SQLiteStore):
    """A real SQLite store that dies (like a killed process) on its Nth intake commit."""

    def __init__(self, path: Path, crash_on_call: int) -> None:
        super().__init__(path)
        self.calls = 0
        self.crash_on_call = crash_on_call

    async def commit_intake(self, batch: IntakeBatch, *, now: datetime) -> list[HealthIssue]:
        self.calls += 1
        if self.calls == self.crash_on_call:
            raise KeyboardInterrupt("killed mid-file")
        return await super().commit_intake(batch, now=now)


async def total_occurrences(store: SQLiteStore) -> int:
    page = await store.query_issues(IssueQuery(limit=1000))
    return sum(issue.occurrences for issue in page.issues)


@pytest.fixture
def registry() -> Registry:
    return Registry()


async def test_each_event_counts_once_across_runs(settings: Settings, registry: Registry, tmp_path: Path) -> None:
    events_dir = settings.resolved_events_dir
    write_events(events_dir, [missing_file_event(tmp_path / "a.json", i) for i in range(5)])
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    intake = Intake(store, registry, events_dir)
    first = await intake.ingest_files()
    again = await intake.ingest_files()
    write_events(events_dir, [missing_file_event(tmp_path / "a.json", i) for i in range(5, 8)])
    third = await intake.ingest_files()
    assert (first.events, again.events, third.events) == (5, 0, 3)
    assert await total_occurrences(store) == 8
    page = await store.query_issues(IssueQuery())
    assert len(page.issues) == 1, "the same failure with different request ids is one issue"
    await store.close()

    reopened = SQLiteStore(settings.resolved_db_path)  # a restart: new process, same file
    await reopened.open()
    assert (await Intake(reopened, registry, events_dir).ingest_files()).events == 0
    assert await total_occurrences(reopened) == 8
    await reopened.close()


async def test_crash_mid_file_resumes_without_loss_or_double_count(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    events_dir = settings.resolved_events_dir
    write_events(events_dir, [missing_file_event(tmp_path / f"f{i % 3}.json", i) for i in range(35)])
    crashing = CrashAfter(settings.resolved_db_path, crash_on_call=3)
    await crashing.open()
    with pytest.raises(KeyboardInterrupt):
        await Intake(crashing, registry, events_dir, batch_lines=10).ingest_files()
    assert await total_occurrences(crashing) == 20, "two batches of 10 were committed before the crash"
    await crashing.close()

    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    summary = await Intake(store, registry, events_dir, batch_lines=10).ingest_files()
    assert summary.events == 15
    assert await total_occurrences(store) == 35
    await store.close()


async def test_partial_line_waits_for_its_newline(settings: Settings, registry: Registry, tmp_path: Path) -> None:
    events_dir = settings.resolved_events_dir
    path = write_events(events_dir, [missing_file_event(tmp_path / "a.json", 1)])
    line = json.dumps(missing_file_event(tmp_path / "a.json", 2))
    with path.open("a") as f:
        f.write(line[:20])  # a writer caught mid-line
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    intake = Intake(store, registry, events_dir)
    assert (await intake.ingest_files()).events == 1
    with path.open("a") as f:
        f.write(line[20:] + "\n")
    summary = await intake.ingest_files()
    assert (summary.events, summary.quarantined) == (1, 0)
    assert await total_occurrences(store) == 2
    await store.close()


async def test_rotated_file_is_read_from_the_start(settings: Settings, registry: Registry, tmp_path: Path) -> None:
    events_dir = settings.resolved_events_dir
    path = write_events(events_dir, [missing_file_event(tmp_path / "a.json", i) for i in range(4)])
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    intake = Intake(store, registry, events_dir)
    await intake.ingest_files()
    path.unlink()  # logrotate: a new file with the same name
    write_events(events_dir, [missing_file_event(tmp_path / "a.json", i) for i in range(100, 102)])
    assert (await intake.ingest_files()).events == 2
    assert await total_occurrences(store) == 6
    await store.close()


async def test_malformed_lines_are_quarantined_with_reasons(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    events_dir = settings.resolved_events_dir
    events_dir.mkdir(parents=True)
    good = json.dumps(missing_file_event(tmp_path / "a.json", 1))
    (events_dir / "mixed.jsonl").write_text(
        "\n".join(
            [
                good,
                "this is not json",
                json.dumps({"kind": "timeout", "message": "no component"}),
                json.dumps({"component": "files", "kind": "x", "time": "yesterday"}),
                json.dumps({"component": "files", "kind": "x", "message": "password=hunter2 leaked"}) + "{",
                "",
                good,
            ]
        )
        + "\n"
    )
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    summary = await Intake(store, registry, events_dir).ingest_files()
    assert (summary.events, summary.quarantined) == (6, 4)
    stats = await store.intake_stats(recent=10)
    reasons = sorted(q.reason for q in stats.recent_quarantine)
    assert any(r.startswith("not valid JSON") for r in reasons)
    assert any("component: Field required" in r for r in reasons)
    assert any(r.startswith("not an event: time") for r in reasons)
    assert all("hunter2" not in q.line for q in stats.recent_quarantine), "quarantined text is redacted"
    assert await total_occurrences(store) == 2
    # Quarantined lines are consumed: they are reported once, not again on the next pass.
    assert (await Intake(store, registry, events_dir).ingest_files()).quarantined == 0
    assert (await store.intake_stats()).quarantined == 4
    await store.close()


class ExplodingSensor:
    def observe(self, event: Event) -> Observation | None:
        if event.kind == "healthy_ping":
            return None
        if event.kind == "odd":
            return {"kind": "odd"}  # type: ignore[return-value]  # a plugin bug: not an Observation
        raise ValueError("sensor bug")


async def test_a_failing_sensor_costs_its_event_not_the_batch(settings: Settings, tmp_path: Path) -> None:
    registry = Registry()
    registry.register(Component("flaky", sensor=ExplodingSensor()))
    events_dir = settings.resolved_events_dir
    write_events(
        events_dir,
        [
            {"component": "flaky", "kind": "timeout", "message": "x"},
            {"component": "flaky", "kind": "healthy_ping", "message": "fine"},
            {"component": "flaky", "kind": "odd", "message": "y"},
            missing_file_event(tmp_path / "a.json", 1),
        ],
    )
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    summary = await Intake(store, registry, events_dir).ingest_files()
    assert (summary.events, summary.ignored, summary.quarantined) == (4, 1, 2)
    issues = {i.kind: i for i in (await store.query_issues(IssueQuery())).issues}
    assert set(issues) == {"missing_file"}, "the unknown 'files' component still gets its issue"
    reasons = sorted(q.reason for q in (await store.intake_stats(recent=10)).recent_quarantine)
    assert reasons == [
        "the flaky sensor failed on this 'timeout' event: ValueError: sensor bug",
        "the flaky sensor returned a dict for this 'odd' event; a sensor returns an Observation, or None for an "
        "event that is not a failure",
    ]
    assert (await Intake(store, registry, events_dir).ingest_files()).events == 0, "quarantined lines are consumed"

    direct = await Intake(store, registry, events_dir).ingest_events([Event(component="flaky", kind="timeout")])
    assert direct.touched == {} and direct.quarantined == 1
    assert direct.problems == ["the flaky sensor failed on this 'timeout' event: ValueError: sensor bug"]
    await store.close()


async def test_a_poison_line_is_quarantined_and_intake_moves_past_it(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    events_dir = settings.resolved_events_dir
    path = write_events(events_dir, [missing_file_event(tmp_path / "a.json", 1)])
    with path.open("a") as f:
        f.write('{"component":"browser","kind":"timeout","severity":[1]}\n')  # unhashable where a name goes
        f.write('{"component":"browser","kind":"timeout","attributes":' + "[" * 5000 + "]" * 5000 + "}\n")
        f.write('{"component":"browser","kind":"timeout","time":"0001-01-01T00:00:00+05:00"}\n')  # before year 1
    write_events(events_dir, [missing_file_event(tmp_path / "a.json", 2)])
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    intake = Intake(store, registry, events_dir)
    summary = await intake.ingest_files()
    assert (summary.events, summary.quarantined) == (5, 3)
    reasons = [q.reason for q in (await store.intake_stats(recent=10)).recent_quarantine]
    assert any(r.startswith("not an event: severity:") for r in reasons), reasons
    assert any(r.startswith("could not be processed: OverflowError") for r in reasons), reasons
    assert await total_occurrences(store) == 2
    write_events(events_dir, [missing_file_event(tmp_path / "a.json", 3)])
    assert (await intake.ingest_files()).events == 1, "the watermark is past the poison line"
    assert await total_occurrences(store) == 3
    await store.close()


async def test_a_line_longer_than_the_limit_is_skipped_exactly_once(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    from healing_mcp.core.intake import MAX_LINE_BYTES, READ_CHUNK

    events_dir = settings.resolved_events_dir
    small = [missing_file_event(tmp_path / "a.json", i) for i in range(12_000)]
    path = write_events(events_dir, small)  # about 3 MB, so the long line crosses the first read chunk
    long_start = path.stat().st_size
    long_line = json.dumps({"component": "files", "kind": "missing_file", "message": "x" * 2_000_000})
    with path.open("a") as f:
        f.write(long_line)  # its newline is not written yet: a writer caught mid-line
    assert long_start < READ_CHUNK < long_start + len(long_line) and len(long_line) > MAX_LINE_BYTES
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    intake = Intake(store, registry, events_dir)
    first = await intake.ingest_files()
    assert (first.events, first.quarantined) == (12_000, 0), "an unfinished line waits, however long"
    with path.open("a") as f:
        f.write("\n")
    write_events(events_dir, [missing_file_event(tmp_path / "a.json", 1)])
    second = await intake.ingest_files()
    assert (second.events, second.quarantined) == (2, 1)
    for _ in range(2):
        assert (await intake.ingest_files()).events == 0
    assert await total_occurrences(store) == 12_001
    (line,) = (await store.intake_stats(recent=10)).recent_quarantine
    assert line.offset == long_start and "longer than the limit" in line.reason
    mark = await store.get_watermark(line.source)
    assert mark is not None and mark.offset == path.stat().st_size
    await store.close()


async def test_targets_are_redacted_before_they_are_stored_and_signed(settings: Settings, registry: Registry) -> None:
    events_dir = settings.resolved_events_dir
    write_events(
        events_dir,
        [
            {
                "component": "db",
                "kind": "connect_failed",
                "target": f"postgresql://admin:{pw}@db/x",
                "message": "refused",
            }
            for pw in ("Sup3rS3cret", "0therPassw0rd")
        ]
        + [{"component": "files", "kind": "missing_file", "target": "/srv/cfg/secret:prod.json", "message": "gone"}],
    )
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    await Intake(store, registry, events_dir).ingest_files()
    issues = {i.kind: i for i in (await store.query_issues(IssueQuery())).issues}
    assert set(issues) == {"connect_failed", "missing_file"}, "the password is not part of the identity"
    db = issues["connect_failed"]
    assert db.target == "postgresql://admin:[REDACTED]@db/x" and db.occurrences == 2
    assert "Sup3rS3cret" not in db.model_dump_json() and "0therPassw0rd" not in db.model_dump_json()
    assert issues["missing_file"].target == "/srv/cfg/secret:prod.json", "an ordinary path is left alone"
    await store.close()


_WRITER = """
import sys
from healing_mcp.events import EventReporter
reporter = EventReporter(sys.argv[1], stream="shared")
for i in range(200):
    reporter("files", "missing_file", f"worker {sys.argv[2]} event {i} " + "x" * 3000, target=f"/w{sys.argv[2]}")
"""


async def test_python_api_is_safe_from_many_processes(settings: Settings, registry: Registry) -> None:
    events_dir = settings.resolved_events_dir
    workers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(events_dir), str(w)]) for w in range(4)]
    assert [p.wait(timeout=120) for p in workers] == [0, 0, 0, 0]
    store = SQLiteStore(settings.resolved_db_path)
    await store.open()
    summary = await Intake(store, registry, events_dir).ingest_files()
    assert (summary.events, summary.quarantined) == (800, 0), "no interleaved or torn lines"
    assert len((await store.query_issues(IssueQuery())).issues) == 4
    await store.close()


def test_report_event_redacts_secrets(tmp_path: Path) -> None:
    event = report_event(
        "supabase",
        "auth_failed",
        "login with postgres://app:s3cret@db:5432/x failed",
        attributes={"api_key": "sk-ant-abcdefghijklmnop", "table": "orders"},
        events_dir=tmp_path,
    )
    text = next(tmp_path.glob("*.jsonl")).read_text()
    assert "s3cret" not in text and "sk-ant-abcdefghijklmnop" not in text
    assert event.attributes["table"] == "orders"
    assert json.loads(text)["kind"] == "auth_failed"


@pytest.mark.parametrize(
    "line",
    [
        '{"component":"browser","kind":"timeout","message":"x 1","time":"2026-11-25T10:00:00Z"}',
        '{"component":"browser","symptom":"timeout","msg":"x","ts":"2026-11-25T10:00:00.123456+02:00"}',
        '{"component":"db","kind":"k","error":"boom","timestamp":"2026-11-25 10:00:00","severity":"critical",'
        '"target":"orders.id","attributes":{"code":"42703","n":[1,2]}}',
    ],
)
def test_fast_path_equals_validated_path(line: str) -> None:
    from healing_mcp.core.intake import _fast_event

    fast = _fast_event(json.loads(line))
    assert fast is not None
    validated = Event.model_validate_json(line)
    assert fast._asdict() == {name: getattr(validated, name) for name in fast._fields}


@pytest.mark.parametrize(
    "line",
    [
        '{"component":"browser","kind":"timeout","time":1764064800}',  # epoch seconds: the validator's job
        '{"component":"browser","kind":"timeout","step":{"action":"click"}}',
        '{"component":"","kind":"timeout"}',
        '{"component":"b","kind":"t","severity":"fatal"}',
        '{"component":"b","kind":"t","time":"yesterday"}',
    ],
)
def test_unusual_lines_take_the_validated_path(line: str) -> None:
    from healing_mcp.core.intake import _fast_event

    assert _fast_event(json.loads(line)) is None


def test_report_event_writes_where_the_supervisor_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HEALING_CONFIG", "HEALING_HOME", "HEALING_EVENTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "healing.toml").write_text('events_dir = "var/healing-events"\n')
    report_event("files", "missing_file", "gone", target="/srv/app.json")
    (written,) = (tmp_path / "var" / "healing-events").glob("*.jsonl")
    assert len(written.read_text().splitlines()) == 1, "healing.toml is honoured"
    monkeypatch.setenv("HEALING_EVENTS_DIR", str(tmp_path / "from-env"))
    report_event("files", "missing_file", "gone", target="/srv/app.json")
    assert list((tmp_path / "from-env").glob("*.jsonl")), "the environment beats the file, as for the supervisor"
