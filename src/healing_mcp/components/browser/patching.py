"""Where a broken selector lives in the agent's source, and the edits that replace it there.

With every failure the wrapper records each call of the locator chain: its API, the part of the selector
it added, and the file and line of the agent's code (:class:`~.wrapper.SourceSite`). From those and the
healed selector, :func:`plan_source_edits` computes edits that touch only what broke:

- the call that names the element (the last ``locator`` / ``get_by_*``, or the page method that took the
  selector) gets the healed selector's frame-relative part: as a string where the code had a string, as
  the selector builder's Python spelling (``get_by_role("button", name="Save", exact=True)``) where it
  had a ``get_by_*`` call;
- a frame chain that changed gets its ``frame_locator`` / ``locator`` string replaced the same way;
- the rest of the chain (an enclosing locator, ``.first``, filters) is kept, and nothing outside the
  recorded lines is touched, even where the same text appears for something that still works.

A chain whose enclosing locator matched nothing either is not patched: replacing the last part would
not make it work. Without recorded call sites (events written by other tools) the whole selector is
looked for as a complete string literal anywhere under the project root, the way it would be written.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healing_mcp.components.browser.selectors import ENTER_FRAME, python_spelling
from healing_mcp.components.browser.wrapper import SourceSite, leaf_site
from healing_mcp.core.patches import (
    Edit,
    PythonSource,
    Replacement,
    find_literal_replacements,
    read_source,
    replacement,
)

__all__ = ["SourcePlan", "broken_locations", "describe_location", "plan_source_edits", "recorded_chains"]


@dataclass
class SourcePlan:
    replacements: list[Replacement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Why (part of) the change could not be computed, in plain words."""


def _site(data: Any) -> SourceSite | None:
    if not isinstance(data, dict):
        return None
    try:
        return SourceSite(api=str(data["api"]), part=str(data["part"]), file=str(data["file"]), line=int(data["line"]))
    except (KeyError, TypeError, ValueError):
        return None


def recorded_chains(samples: list[dict[str, Any]]) -> list[tuple[tuple[SourceSite, ...], int | None]]:
    """The distinct call chains (and how many elements their enclosing locator still matched) that the
    evidence samples' attributes recorded, newest first."""
    chains: dict[tuple[SourceSite, ...], int | None] = {}
    for attributes in reversed(samples):
        raw = attributes.get("source")
        if not isinstance(raw, list):
            continue
        chain = tuple(site for site in map(_site, raw) if site is not None)
        matched = attributes.get("scope_matched")
        if chain and chain not in chains:
            chains[chain] = matched if isinstance(matched, int) else None
    return list(chains.items())


def _frames(selector: str) -> tuple[list[str], str]:
    *frames, leaf = selector.split(ENTER_FRAME)
    return frames, leaf


def _relative(path: Path, root: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(path)


def broken_locations(samples: list[dict[str, Any]]) -> list[tuple[Path, int]]:
    """File and line of the call that names the broken element, per recorded chain."""
    found = []
    for chain, _ in recorded_chains(samples):
        leaf = leaf_site(chain)
        if leaf is not None:
            found.append((Path(leaf.file), leaf.line))
    return list(dict.fromkeys(found))


def describe_location(root: Path, path: Path, line: int) -> str:
    return f"{_relative(path, root.resolve())}:{line}"


_FIRST_ARG = {
    "get_by_role": re.compile(r"internal:role=([a-z]+)"),
    "get_by_text": re.compile(r'internal:text=("(?:[^"\\]|\\.)*")'),
    "get_by_label": re.compile(r'internal:label=("(?:[^"\\]|\\.)*")'),
    "get_by_test_id": re.compile(r'internal:testid=\[[\w-]+=("(?:[^"\\]|\\.)*")'),
    "get_by_placeholder": re.compile(r'internal:attr=\[placeholder=("(?:[^"\\]|\\.)*")'),
    "get_by_alt_text": re.compile(r'internal:attr=\[alt=("(?:[^"\\]|\\.)*")'),
    "get_by_title": re.compile(r'internal:attr=\[title=("(?:[^"\\]|\\.)*")'),
}


def _first_argument(api: str, part: str) -> str | None:
    """The first argument of the ``get_by_*`` call that produced ``part`` (the role, text or test id)."""
    pattern = _FIRST_ARG.get(api)
    found = pattern.match(part) if pattern else None
    if found is None:
        return None
    value = found.group(1)
    return str(json.loads(value)) if value.startswith('"') else value


def _call_edits(source: PythonSource, site: SourceSite, spelling: str) -> list[Edit]:
    calls = source.calls(site.line, site.api)
    if len(calls) > 1:  # several get_by_role(...) in one statement: the one with the recorded argument
        wanted = _first_argument(site.api, site.part)
        calls = [c for c in calls if c.args and isinstance(c.args[0], ast.Constant) and c.args[0].value == wanted]
    return [source.call_edit(calls[0], spelling)] if len(calls) == 1 else []


def _string_edits(source: PythonSource, site: SourceSite, new: str) -> list[Edit]:
    edits = source.string_edits(site.line, site.part, new)
    if edits:
        return edits
    # The string may be a constant defined elsewhere in the file; only a single definition is safe.
    lines = source.count_strings(site.part)
    return source.string_edits(lines[0], site.part, new) if len(lines) == 1 else []


class _Files:
    """Parsed files under the project root, each read once per plan."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.sources: dict[Path, tuple[PythonSource, str]] = {}
        self.edits: dict[Path, list[Edit]] = {}

    def source(self, file: str, notes: list[str]) -> PythonSource | None:
        path = Path(file).resolve()
        if path in self.sources:
            return self.sources[path][0]
        if not path.is_relative_to(self.root):
            notes.append(f"the failing code ({file}) is outside the project root {self.root}; not patched")
            return None
        if path.suffix != ".py":
            notes.append(f"{_relative(path, self.root)} is not Python source; not patched")
            return None
        read = read_source(path)
        if read is None:
            notes.append(f"{_relative(path, self.root)} cannot be read as UTF-8 source; not patched")
            return None
        try:
            parsed = PythonSource(read[0])
        except SyntaxError:
            notes.append(f"{_relative(path, self.root)} does not parse as Python; not patched")
            return None
        self.sources[path] = (parsed, read[1])
        return parsed

    def add(self, file: str, edits: list[Edit]) -> None:
        self.edits.setdefault(Path(file).resolve(), []).extend(edits)

    def replacements(self) -> list[Replacement]:
        out = []
        for path, edits in self.edits.items():
            made = replacement(path, self.sources[path][1], edits)
            if made is not None:
                out.append(made)
        return out


def _chain_edits(
    files: _Files, chain: tuple[SourceSite, ...], scope_matched: int | None, old: str, new: str, notes: list[str]
) -> None:
    leaf = leaf_site(chain)
    if leaf is None:
        notes.append("the recorded call chain names no element; not patched")
        return
    where = f"{_relative(Path(leaf.file), files.root)}:{leaf.line}"
    if scope_matched == 0:
        notes.append(f"at {where} the enclosing locator matched nothing either: the chain needs a human")
        return
    source = files.source(leaf.file, notes)
    if source is None:
        return
    old_frames, _ = _frames(old)
    new_frames, new_leaf = _frames(new)
    text = new if ENTER_FRAME in leaf.part else new_leaf
    if leaf.api.startswith("get_by_"):
        edits = _call_edits(source, leaf, python_spelling(text))
    else:
        edits = _string_edits(source, leaf, text)
    if not edits:
        notes.append(f"{where} does not contain the {leaf.api} call of {leaf.part!r} as recorded; not patched")
        return
    files.add(leaf.file, edits)
    if old_frames == new_frames or ENTER_FRAME in leaf.part:
        return
    framing = [site for site in chain if site.api in ("frame_locator", "locator") and site is not leaf]
    if len(old_frames) != len(new_frames):
        notes.append(f"the element moved to another frame depth; the frame chain at {where} needs a human")
        return
    for before, after in zip(old_frames, new_frames, strict=True):
        if before == after:
            continue
        site = next((s for s in framing if s.part == before), None)
        frame_source = files.source(site.file, notes) if site is not None else None
        if site is None or frame_source is None or not (frame_edits := _string_edits(frame_source, site, after)):
            notes.append(f"the frame {before!r} became {after!r}; its locator was not found in the code")
            continue
        files.add(site.file, frame_edits)


def plan_source_edits(root: Path, old: str, new: str, samples: list[dict[str, Any]]) -> SourcePlan:
    """The edits that replace the broken ``old`` selector with ``new`` in the agent's code under ``root``.

    ``samples`` are the attributes of the issue's evidence (the wrapper's failure events).
    """
    chains = recorded_chains(samples)
    if not chains:
        if ENTER_FRAME in old or old.startswith("internal:"):
            why = "the code that built this selector was not recorded (no call site in the events)"
            return SourcePlan(notes=[f"{why}; find {old!r} by hand"])
        return SourcePlan(replacements=find_literal_replacements(root, old, new))
    files = _Files(root)
    notes: list[str] = []
    for chain, scope_matched in chains:
        _chain_edits(files, chain, scope_matched, old, new, notes)
    replacements = files.replacements()
    if len(replacements) < len({Path(p) for p in files.edits}):
        notes.append("two recorded call sites need overlapping edits; not patched")
    return SourcePlan(replacements=replacements, notes=notes)
