"""Patches for humans: what the loop could not, or was not allowed to, change by itself.

Components use :func:`find_literal_replacements` to locate a broken literal (a selector, a tool name, a
column) in the user's source tree and :func:`unified_diff` to render the change as a ``git apply``-able
patch. :func:`apply_replacements` applies the same change when the safety policy allows it, refusing if
the file changed since the patch was computed. Every suggestion is redacted before it is stored or
written to ``<home>/patches``.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from healing_mcp.models import FixPlan, FixRisk, HealthIssue, PatchReason, PatchSuggestion
from healing_mcp.redact import redact, redact_text

SOURCE_SUFFIXES = frozenset(
    {
        ".py",
        ".js",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".jsx",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".sql",
        ".feature",
    }
)
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".healing",
        "dist",
        "build",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        "site-packages",
    }
)
MAX_FILE_BYTES = 2_000_000


@dataclass(frozen=True)
class Replacement:
    """Replace the quoted literal ``old`` with ``new`` in one file whose content hashes to ``digest``."""

    path: Path
    old: str
    new: str
    digest: str
    count: int


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def iter_source_files(root: Path, suffixes: Iterable[str] = SOURCE_SUFFIXES) -> Iterable[Path]:
    wanted = set(suffixes)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix in wanted:
                yield path


def _quote_pattern(literal: str) -> re.Pattern[str]:
    # The literal as a whole string: between matching quotes, nothing else inside.
    escaped = re.escape(literal)
    return re.compile(rf"(?P<q>['\"`]){escaped}(?P=q)")


def _requote(new: str, quote: str) -> str:
    other = {'"': "'", "'": '"'}.get(quote)
    if quote in new and other is not None and other not in new:
        return f"{other}{new}{other}"  # switch quote style rather than escape: reads like hand-written code
    if quote in new:
        new = new.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{new}{quote}"


def find_literal_replacements(root: Path, old: str, new: str) -> list[Replacement]:
    """Files under ``root`` where ``old`` appears as a complete quoted string literal."""
    if not old or old == new:
        return []
    pattern = _quote_pattern(old)
    found = []
    for path in iter_source_files(root):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        count = len(pattern.findall(text))
        if count:
            found.append(Replacement(path=path, old=old, new=new, digest=_digest(text), count=count))
    return found


def _rewrite(text: str, replacement: Replacement) -> str:
    pattern = _quote_pattern(replacement.old)
    return pattern.sub(lambda m: _requote(replacement.new, m.group("q")), text)


def unified_diff(root: Path, replacements: Iterable[Replacement]) -> str:
    """A ``git apply``-able diff (a/ and b/ prefixes, paths relative to ``root``)."""
    chunks = []
    for r in replacements:
        before = r.path.read_text(encoding="utf-8")
        after = _rewrite(before, r)
        rel = r.path.resolve().relative_to(root.resolve()).as_posix()
        chunks.append(
            "".join(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    fromfile=f"a/{rel}",
                    tofile=f"b/{rel}",
                    n=1,  # one line of context: patches for neighbouring lines stay independently appliable
                )
            )
        )
    return redact_text("".join(chunks))


def apply_replacements(replacements: Iterable[Replacement]) -> list[str]:
    """Apply in place, atomically per file. Refuses a file that changed since it was scanned."""
    changed = []
    for r in replacements:
        text = r.path.read_text(encoding="utf-8")
        if _digest(text) != r.digest:
            raise RuntimeError(f"{r.path} changed since the patch was computed; recompute it")
        tmp = r.path.with_name(f".{r.path.name}.healing-tmp")
        tmp.write_text(_rewrite(text, r), encoding="utf-8")
        os.replace(tmp, r.path)
        changed.append(f"{r.path}: {r.count} occurrence(s) of {r.old!r} -> {r.new!r}")
    return changed


def patch_id(issue_id: str, key: str) -> str:
    return f"pat_{issue_id.removeprefix('iss_')}_{hashlib.blake2b(key.encode(), digest_size=4).hexdigest()}"


def generic_suggestion(
    issue: HealthIssue, reason: PatchReason, why: str, plan: FixPlan | None = None
) -> PatchSuggestion:
    """A suggestion without a diff: the diagnosis and the fix we would have tried, in plain words."""
    lines = [why, "", f"Issue: {issue.title} ({issue.occurrences} occurrence(s))."]
    if issue.probable_causes:
        lines.append("Probable causes: " + "; ".join(issue.probable_causes[:3]))
    if plan is not None:
        lines.append(f"Proposed fix: {plan.strategy} - {plan.description or plan.params}")
    elif issue.recommended_fixes:
        lines.append("Recommended: " + "; ".join(issue.recommended_fixes[:3]))
    return PatchSuggestion(
        id=patch_id(issue.id, plan.signature if plan else reason),
        issue_id=issue.id,
        component=issue.component,
        title=f"Manual fix needed: {issue.title}",
        rationale=redact_text("\n".join(lines)),
        risk=plan.risk if plan else FixRisk.reversible,
        reason=reason,
    )


def sanitize(patch: PatchSuggestion) -> PatchSuggestion:
    data = redact(patch.model_dump(mode="json"))
    return PatchSuggestion.model_validate(data)


def write_patch_file(patches_dir: Path, patch: PatchSuggestion) -> Path | None:
    """Write the diff (with a header of rationale) to ``<patches_dir>/<id>.patch``; None if no diff."""
    if not patch.diff:
        return None
    patches_dir.mkdir(parents=True, exist_ok=True)
    header = "".join(f"# {line}\n" for line in [patch.title, *patch.rationale.splitlines()])
    path = patches_dir / f"{patch.id}.patch"
    path.write_text(header + patch.diff, encoding="utf-8")
    return path
