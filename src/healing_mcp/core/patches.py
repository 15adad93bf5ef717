"""Patches for humans: what the loop could not, or was not allowed to, change by itself.

A change to the user's source tree is a list of :class:`Replacement`\\ s, one per file, each a set of
character-range :class:`Edit`\\ s computed against the file's content at one moment (its digest). Two
ways to find them:

- :func:`find_literal_replacements`: a broken literal (a selector, a tool name, a column) anywhere in the
  tree, as a complete quoted string;
- :class:`PythonSource`: precise edits at a known place of a Python file (a call site a sensor recorded):
  the string constant or the ``.method(...)`` call of the statement on that line.

:func:`unified_diff` renders them as a ``git apply``-able patch. :func:`write_replacements` applies them
when the safety policy allows it, refusing a file that changed since the patch was computed, and returns
what it wrote so :func:`restore_files` can undo exactly that (a fix whose retest failed). Files are read
and written as bytes: line endings, encoding and file mode survive. Every suggestion is redacted before it
is stored or written to ``<home>/patches``.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import itertools
import os
import re
import shutil
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
class Edit:
    """Replace ``text[start:end]`` (character offsets; ``before`` is what is there) with ``after``."""

    start: int
    end: int
    before: str
    after: str
    line: int


@dataclass(frozen=True)
class Replacement:
    """Edits of one file whose content hashed to ``digest`` when they were computed."""

    path: Path
    digest: str
    edits: tuple[Edit, ...]

    @property
    def count(self) -> int:
        return len(self.edits)

    def describe(self) -> str:
        changes = dict.fromkeys(f"{e.before} -> {e.after}" for e in self.edits)
        return f"{self.path}: {self.count} edit(s): {'; '.join(changes)}"


@dataclass(frozen=True)
class WrittenFile:
    """What :func:`write_replacements` did to one file, byte for byte."""

    path: Path
    before: bytes
    after: bytes


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def read_source(path: Path) -> tuple[str, str] | None:
    """(text, digest) of a source file; None when it is too big, unreadable or not UTF-8."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
        return data.decode("utf-8"), _digest(data)
    except (OSError, UnicodeDecodeError):
        return None


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


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def find_literal_replacements(root: Path, old: str, new: str) -> list[Replacement]:
    """Files under ``root`` where ``old`` appears as a complete quoted string literal."""
    if not old or old == new:
        return []
    pattern = _quote_pattern(old)
    found = []
    for path in iter_source_files(root):
        source = read_source(path)
        if source is None:
            continue
        text, digest = source
        edits = tuple(
            Edit(m.start(), m.end(), m.group(0), _requote(new, m.group("q")), _line_of(text, m.start()))
            for m in pattern.finditer(text)
        )
        if edits:
            found.append(Replacement(path=path, digest=digest, edits=edits))
    return found


def python_literal(value: str, like: str = '"') -> str:
    """``value`` as a Python string literal, in the quote style of the literal ``like`` when possible."""
    quote = "'" if like.lstrip("rRbBuUfF").startswith("'") else '"'
    other = "'" if quote == '"' else '"'
    if quote in value and other not in value:
        quote = other
    body = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    body = body.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"{quote}{body}{quote}"


def _height(node: ast.AST) -> int:
    return (getattr(node, "end_lineno", None) or 0) - getattr(node, "lineno", 0)


class PythonSource:
    """One parsed Python file, to find exactly what a recorded call site wrote.

    Positions are located through the syntax tree, not by searching text, so a literal that happens to
    appear elsewhere in the file (a comment, another call) is never touched.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = ast.parse(text)
        self._line_starts = [0]
        for line in text.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))
        self._lines = text.splitlines(keepends=True)

    def offset(self, lineno: int, col: int) -> int:
        """Character offset of (1-based line, UTF-8 byte column), as the ``ast`` module reports them."""
        line = self._lines[lineno - 1] if lineno - 1 < len(self._lines) else ""
        return self._line_starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))

    def statement_at(self, line: int) -> ast.stmt | None:
        """The innermost statement spanning ``line``."""
        spanning = [
            node
            for node in ast.walk(self.tree)
            if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno)
        ]
        # ast.walk visits outer statements first: on equal height the later (inner) one wins.
        return min(reversed(spanning), key=_height, default=None)

    def _span(self, node: ast.expr) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def string_edits(self, line: int, value: str, new: str) -> list[Edit]:
        """Replace the string constants equal to ``value`` in the statement at ``line`` with ``new``."""
        statement = self.statement_at(line)
        if statement is None:
            return []
        edits = []
        for node in ast.walk(statement):
            if isinstance(node, ast.Constant) and node.value == value:
                start, end = self._span(node)
                before = self.text[start:end]
                edits.append(Edit(start, end, before, python_literal(new, before), node.lineno))
        return edits

    def calls(self, line: int, method: str) -> list[ast.Call]:
        """The ``<expr>.method(...)`` calls in the statement at ``line``, in source order."""
        statement = self.statement_at(line)
        if statement is None:
            return []
        found = [
            node
            for node in ast.walk(statement)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
        ]
        return sorted(found, key=lambda n: (n.lineno, n.col_offset))

    def call_edit(self, call: ast.Call, new: str) -> Edit:
        """Replace ``method(...)`` of ``call`` (from the method name to the closing parenthesis)."""
        assert isinstance(call.func, ast.Attribute)
        _, name_end = self._span(call.func)
        _, end = self._span(call)
        start = name_end - len(call.func.attr)
        return Edit(start, end, self.text[start:end], new, call.lineno)

    def count_strings(self, value: str) -> list[int]:
        """Lines of every string constant equal to ``value`` in the whole file."""
        return sorted(
            node.lineno for node in ast.walk(self.tree) if isinstance(node, ast.Constant) and node.value == value
        )


def replacement(path: Path, digest: str, edits: Iterable[Edit]) -> Replacement | None:
    """One file's edits, de-duplicated and in order; None when there are none or they overlap."""
    unique = sorted({(e.start, e.end): e for e in edits}.values(), key=lambda e: e.start)
    if not unique or any(a.end > b.start for a, b in itertools.pairwise(unique)):
        return None
    return Replacement(path=path, digest=digest, edits=tuple(unique))


def _rewrite(text: str, replacement: Replacement) -> str:
    out, last = [], 0
    for edit in replacement.edits:
        out.append(text[last : edit.start])
        out.append(edit.after)
        last = edit.end
    out.append(text[last:])
    return "".join(out)


def unified_diff(root: Path, replacements: Iterable[Replacement]) -> str:
    """A ``git apply``-able diff (a/ and b/ prefixes, paths relative to ``root``)."""
    chunks = []
    for r in replacements:
        before = r.path.read_bytes().decode("utf-8")
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


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write atomically, keeping the file's mode."""
    tmp = path.with_name(f".{path.name}.healing-tmp")
    tmp.write_bytes(data)
    shutil.copymode(path, tmp)
    os.replace(tmp, path)


def write_replacements(replacements: Iterable[Replacement]) -> list[WrittenFile]:
    """Apply in place, atomically per file. Refuses (before writing anything) when a file changed since
    it was scanned. Returns what was written, for :func:`restore_files`."""
    planned: list[tuple[Replacement, bytes]] = []
    for r in replacements:
        data = r.path.read_bytes()
        if _digest(data) != r.digest:
            raise RuntimeError(f"{r.path} changed since the patch was computed; recompute it")
        planned.append((r, data))
    written: list[WrittenFile] = []
    try:
        for r, data in planned:
            after = _rewrite(data.decode("utf-8"), r).encode("utf-8")
            _replace_bytes(r.path, after)
            written.append(WrittenFile(path=r.path, before=data, after=after))
    except OSError:
        restore_files(written)  # all files or none: a half-applied change helps nobody
        raise
    return written


def apply_replacements(replacements: Iterable[Replacement]) -> list[str]:
    """Apply in place (see :func:`write_replacements`); returns what changed, in words."""
    items = list(replacements)
    write_replacements(items)
    return [r.describe() for r in items]


def restore_files(written: Iterable[WrittenFile]) -> list[str]:
    """Undo :func:`write_replacements`: put back the original bytes of every file that still holds exactly
    what was written. A file edited since is left alone. Returns one note per file."""
    notes = []
    for w in written:
        try:
            current = w.path.read_bytes()
        except OSError as error:
            notes.append(f"left {w.path} alone: it cannot be read any more ({error})")
            continue
        if current == w.before:
            notes.append(f"{w.path} already holds its original content")
        elif current == w.after:
            _replace_bytes(w.path, w.before)
            notes.append(f"restored {w.path} to its content before the fix")
        else:
            notes.append(f"left {w.path} alone: it was edited after the fix wrote it; check it by hand")
    return notes


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
