"""Intake throughput and grouping quality: healing-mcp's ``Intake.ingest_files`` vs drain3.

healing-mcp reads JSONL files from disk into a fresh SQLite store: parse + validate each line,
quarantine malformed ones, sensor, signature, grouping, and the transactional commit of issues and
watermarks. drain3's ``TemplateMiner`` (default in-memory configuration, no persistence) gets the same
events' message strings already in memory, so it pays no file reading or JSON parsing: the comparison
favours drain3. Once per run drain3 is also fed from the same JSONL files (read + ``json.loads``), the
same input healing-mcp starts from. Both wall time and CPU time are recorded; CPU time is steadier on a
busy machine.

Grouping quality is scored against the generator's ground truth: each issue (or drain3 cluster) should
hold exactly one template. A *merge* is a group holding several templates (different failures hidden
in one issue: the costly mistake); a *split* is a template spread over several groups (duplicate
issues). drain3 is scored twice: on the bare message, and on a line carrying the same structured fields
healing-mcp groups on (component, kind, target, message).
"""

from __future__ import annotations

import contextlib
import gc
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from benchmarks.core.common import Results, Row, log, median, ratio
from benchmarks.core.eventgen import GeneratedLine, generate, templates
from healing_mcp.components.base import DefaultSensor
from healing_mcp.components.registry import Registry
from healing_mcp.core.intake import Intake
from healing_mcp.core.signatures import compute_signature, reset_caches
from healing_mcp.store.base import IssueQuery
from healing_mcp.store.sqlite import SQLiteStore

TARGET_EVENTS_PER_S = 50_000
TARGET_VS_DRAIN3 = 2.0


@dataclass
class Quality:
    groups: int
    templates: int
    merged_groups: int
    templates_in_merged_groups: int
    split_templates: int
    extra_groups_from_splits: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def score(assignments: Iterable[tuple[int, Hashable]]) -> Quality:
    """Compare (template, group) pairs with the ground truth."""
    by_group: dict[Hashable, set[int]] = defaultdict(set)
    by_template: dict[int, set[Hashable]] = defaultdict(set)
    for template, group in assignments:
        by_group[group].add(template)
        by_template[template].add(group)
    merged = [members for members in by_group.values() if len(members) > 1]
    split = [groups for groups in by_template.values() if len(groups) > 1]
    return Quality(
        groups=len(by_group),
        templates=len(by_template),
        merged_groups=len(merged),
        templates_in_merged_groups=sum(len(m) for m in merged),
        split_templates=len(split),
        extra_groups_from_splits=sum(len(g) - 1 for g in split),
    )


def write_event_files(lines: Sequence[GeneratedLine], events_dir: Path) -> list[Path]:
    """One JSONL file per emitting service, as services write them; malformed lines stay where they fell."""
    events_dir.mkdir(parents=True, exist_ok=True)
    names = sorted({line.component for line in lines if line.component})
    handles = {name: (events_dir / f"{name}.jsonl").open("w", encoding="utf-8") for name in names}
    try:
        last = names[0]
        for line in lines:
            last = line.component or last
            handles[last].write(line.line + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return [events_dir / f"{name}.jsonl" for name in names]


async def _healing_once(events_dir: Path, db: Path) -> tuple[float, float, dict[str, Any]]:
    store = SQLiteStore(db)
    await store.open()
    try:
        intake = Intake(store, Registry(), events_dir)
        reset_caches()  # every repetition starts cold, like a fresh process
        gc.collect()
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = await intake.ingest_files()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        page = await store.query_issues(IssueQuery(limit=1))
        stats = await store.intake_stats()
    finally:
        await store.close()
    return (
        elapsed,
        cpu,
        {
            "events": summary.events,
            "quarantined": summary.quarantined,
            "sources": summary.sources,
            "issues_in_store": page.total,
            "events_seen_counter": stats.events_seen,
        },
    )


# drain3 masking instructions for the same variable parts healing-mcp masks (urls, emails, uuids,
# timestamps, ips, hashes, quoted values, numbers): drain3 doing the same grouping job.
DRAIN3_MASKS = [
    (r"\b(?:https?|wss?|ftp)://\S+", "URL"),
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "EMAIL"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?", "TIME"),
    (r"\d{2}:\d{2}:\d{2}(?:[.,]\d+)?", "TIME"),
    (r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?", "IP"),
    (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", "HEX"),
    (r"'[^'\n]{0,200}'", "STR"),
    (r'"[^"\n]{0,200}"', "STR"),
    (r"(?<![A-Za-z0-9])[-+]?\d+(?:\.\d+)?", "NUM"),
]


def _drain3_once(messages: Sequence[str], *, masked: bool = False) -> tuple[float, float, list[int]]:
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()  # the default configuration, in memory
    if masked:
        config.masking_instructions.extend(MaskingInstruction(pattern, name) for pattern, name in DRAIN3_MASKS)
    miner = TemplateMiner(config=config)
    add = miner.add_log_message
    clusters: list[int] = []
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    for message in messages:
        clusters.append(add(message)["cluster_id"])
    return time.perf_counter() - started, time.process_time() - cpu_started, clusters


def _drain3_from_files(files: Sequence[Path]) -> tuple[float, int]:
    """drain3 fed from the same JSONL files: read, ``json.loads``, take the message. Same input as
    healing-mcp, still without validation, quarantine or persistence."""
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    miner = TemplateMiner(config=TemplateMinerConfig())
    add = miner.add_log_message
    lines = 0
    gc.collect()
    started = time.perf_counter()
    for path in files:
        with path.open("rb") as handle:
            for raw in handle:
                lines += 1
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(event, dict):
                    continue
                message = event.get("message") or event.get("msg") or event.get("error")
                if isinstance(message, str):
                    add(message)
    return time.perf_counter() - started, lines


def stage_costs(lines: Sequence[GeneratedLine], sample: int = 20_000) -> dict[str, float]:
    """CPU microseconds per event of each intake stage, measured one stage at a time on a sample."""
    from healing_mcp.core.intake import Grouper
    from healing_mcp.models import Event, Observation

    raws = [line.line.encode() for line in lines[:sample]]
    registry = Registry()

    def cpu_us(fn: Any) -> float:
        gc.collect()
        started = time.process_time()
        fn()
        return (time.process_time() - started) / len(raws) * 1e6

    parsed: list[Event] = []

    def parse() -> None:
        for raw in raws:
            with contextlib.suppress(ValueError):  # malformed lines: quarantined by intake, skipped here
                parsed.append(Event.model_validate_json(raw))

    out = {"parse_and_validate": cpu_us(parse)}

    def observe(event: Event) -> Observation | None:
        component = registry.get(event.component)
        return (component.sensor if component else DefaultSensor(event.component)).observe(event)

    observations = [observe(event) for event in parsed]
    out["sensor"] = cpu_us(lambda: [observe(event) for event in parsed])
    reset_caches()
    out["signature"] = cpu_us(
        lambda: [
            compute_signature(e.component, o.kind, o.target, e.message)
            for e, o in zip(parsed, observations, strict=True)
            if o is not None
        ]
    )
    reset_caches()
    grouper = Grouper(registry)
    out["grouper_add_total"] = cpu_us(lambda: [grouper.add(event) for event in parsed])  # sensor + signature + rest
    reset_caches()
    return out


def run(results: Results, events: int, repeats: int) -> dict[str, Any]:
    log(f"  generating {events:,} events ...")
    lines = list(generate(events))
    valid = [line for line in lines if line.template is not None]
    messages = [line.message for line in valid]
    full_lines = [f"{line.component} {line.kind} {line.target} {line.message}" for line in valid]
    truth = [line.template or 0 for line in valid]  # valid lines always have a template
    true_templates = len(set(truth))

    healing_times: list[float] = []
    drain_times: list[float] = []
    healing_cpu: list[float] = []
    drain_cpu: list[float] = []
    healing_info: dict[str, Any] = {}
    drain_clusters: list[int] = []
    masked_times: list[float] = []
    masked_clusters: list[int] = []
    with tempfile.TemporaryDirectory(prefix="healing-bench-intake-") as tmp:
        root = Path(tmp)
        events_dir = root / "events"
        files = write_event_files(lines, events_dir)
        size = sum(f.stat().st_size for f in files)
        for i in range(repeats):
            # Alternate which side goes first so drift on a shared machine hits both.
            for side in ("healing", "drain3", "masked") if i % 2 == 0 else ("masked", "drain3", "healing"):
                if side == "healing":
                    elapsed, cpu, healing_info = anyio.run(_healing_once, events_dir, root / f"store{i}" / "healing.db")
                    healing_times.append(elapsed)
                    healing_cpu.append(cpu)
                elif side == "drain3":
                    elapsed, cpu, drain_clusters = _drain3_once(messages)
                    drain_times.append(elapsed)
                    drain_cpu.append(cpu)
                else:
                    elapsed, _, masked_clusters = _drain3_once(messages, masked=True)
                    masked_times.append(elapsed)
            log(
                f"  intake {i + 1}/{repeats}: healing-mcp {events / healing_times[-1]:,.0f} events/s, "
                f"drain3 {len(messages) / drain_times[-1]:,.0f} messages/s, "
                f"drain3 masking the same parts {len(messages) / masked_times[-1]:,.0f} messages/s"
            )
        drain_full_time, _, drain_full_clusters = _drain3_once(full_lines)
        drain_file_time, drain_file_lines = _drain3_from_files(files)

    healing_best = median(healing_times)
    drain_best = median(drain_times)
    healing_rate = events / healing_best  # every line counts, malformed ones included (they are quarantined)
    drain_rate = len(messages) / drain_best
    masked_rate = len(messages) / median(masked_times)
    # The target compares like with like: drain3 doing the same job (masking the same variable parts).
    vs = ratio(healing_rate, masked_rate)

    stages = stage_costs(lines)
    signatures = [compute_signature(v.component, v.kind, v.target, v.message) for v in valid]
    healing_quality = score(zip(truth, signatures, strict=True))
    drain_quality = score(zip(truth, drain_clusters, strict=True))
    drain_full_quality = score(zip(truth, drain_full_clusters, strict=True))
    masked_quality = score(zip(truth, masked_clusters, strict=True))
    if healing_info.get("issues_in_store") != healing_quality.groups:
        log(
            f"  warning: {healing_info.get('issues_in_store')} issues in the store but "
            f"{healing_quality.groups} distinct signatures"
        )

    out: dict[str, Any] = {
        "events": events,
        "valid_events": len(valid),
        "malformed_lines": events - len(valid),
        "bytes": size,
        "files": len(files),
        "template_pool": len(templates()),
        "true_templates": true_templates,
        "repeats": repeats,
        "healing": {
            "seconds": healing_times,
            "median_seconds": healing_best,
            "events_per_s": healing_rate,
            "cpu_seconds": healing_cpu,
            "events_per_cpu_s": events / median(healing_cpu),
            "mib_per_s": size / healing_best / 2**20,
            "result": healing_info,
            "quality": healing_quality.as_dict(),
            "stage_cpu_us_per_event": stages,
        },
        "drain3": {
            "seconds": drain_times,
            "median_seconds": drain_best,
            "messages_per_s": drain_rate,
            "cpu_seconds": drain_cpu,
            "messages_per_cpu_s": len(messages) / median(drain_cpu),
            "quality_on_messages": drain_quality.as_dict(),
            "from_files_seconds": drain_file_time,
            "from_files_lines_per_s": drain_file_lines / drain_file_time,
            "full_line_seconds": drain_full_time,
            "full_line_messages_per_s": len(full_lines) / drain_full_time,
            "quality_on_full_lines": drain_full_quality.as_dict(),
            "masked_seconds": masked_times,
            "masked_messages_per_s": masked_rate,
            "masked_quality": masked_quality.as_dict(),
        },
        "ratio_vs_drain3_masked": vs,
        "ratio_vs_drain3_default": ratio(healing_rate, drain_rate),
        "ratio_vs_drain3_cpu": ratio(events / median(healing_cpu), len(messages) / median(drain_cpu)),
        "targets": {"events_per_s": TARGET_EVENTS_PER_S, "vs_drain3": TARGET_VS_DRAIN3},
        "met": healing_rate >= TARGET_EVENTS_PER_S and vs >= TARGET_VS_DRAIN3,
    }
    results.benchmarks["intake"] = out
    results.rows.append(
        Row(
            "intake",
            f"{events:,} JSONL events -> store, events/s",
            f"{healing_rate:,.0f}",
            f"{masked_rate:,.0f} (drain3 masking the same parts)",
            f"{vs:.2f}",
            f">= {TARGET_EVENTS_PER_S:,} and >= {TARGET_VS_DRAIN3:.0f}x",
            healing_rate >= TARGET_EVENTS_PER_S and vs >= TARGET_VS_DRAIN3,
        )
    )
    results.rows.append(
        Row(
            "intake",
            "drain3 default config (no masking; messages already in memory)",
            f"{healing_rate:,.0f}",
            f"{drain_rate:,.0f} (drain3)",
            f"{ratio(healing_rate, drain_rate):.2f}",
            "-",
            None,
        )
    )
    cpu_rate = out["healing"]["events_per_cpu_s"]
    drain_cpu_rate = out["drain3"]["messages_per_cpu_s"]
    results.rows.append(
        Row(
            "intake",
            "same, per CPU-second (robust to machine load)",
            f"{cpu_rate:,.0f}",
            f"{drain_cpu_rate:,.0f} (drain3)",
            f"{out['ratio_vs_drain3_cpu']:.2f}",
            "-",
            None,
        )
    )
    file_rate = out["drain3"]["from_files_lines_per_s"]
    results.rows.append(
        Row(
            "intake",
            "drain3 reading the same JSONL files instead",
            f"{healing_rate:,.0f}",
            f"{file_rate:,.0f} (drain3)",
            f"{ratio(healing_rate, file_rate):.2f}",
            "-",
            None,
        )
    )
    results.rows.append(
        Row(
            "grouping",
            f"issues / true templates ({true_templates})",
            str(healing_quality.groups),
            f"{drain_quality.groups} (msg) / {drain_full_quality.groups} (full) / {masked_quality.groups} (masked)",
            "-",
            f"= {true_templates}",
            healing_quality.groups == true_templates,
        )
    )
    results.rows.append(
        Row(
            "grouping",
            "merges (groups with >1 template)",
            str(healing_quality.merged_groups),
            f"{drain_quality.merged_groups} (msg) / {drain_full_quality.merged_groups} (full) / "
            f"{masked_quality.merged_groups} (masked)",
            "-",
            "0",
            healing_quality.merged_groups == 0,
        )
    )
    results.rows.append(
        Row(
            "grouping",
            "split templates (extra groups)",
            f"{healing_quality.split_templates} ({healing_quality.extra_groups_from_splits})",
            f"{drain_quality.split_templates} ({drain_quality.extra_groups_from_splits}) (msg)",
            "-",
            "0",
            healing_quality.split_templates == 0,
        )
    )
    return out
