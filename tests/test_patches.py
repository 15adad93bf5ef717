"""Patches: broken literals found in a real source tree, rendered as diffs that `git apply` accepts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from healing_mcp.core.patches import (
    apply_replacements,
    find_literal_replacements,
    patch_id,
    unified_diff,
    write_patch_file,
)
from healing_mcp.models import FixRisk, PatchSuggestion


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "flows" / "checkout.py").write_text(
        'await page.click("#buy-now")\nawait page.fill(\'#email\', "a@b.c")\nlabel = "#buy-now-label"\n'
    )
    (root / "flows" / "checkout.spec.ts").write_text("await page.locator(`#buy-now`).click();\n")
    (root / "node_modules" / "lib" / "x.js").write_text('click("#buy-now")\n')
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    return root


def test_finds_whole_literals_only_and_skips_vendored_code(repo: Path) -> None:
    found = find_literal_replacements(repo, "#buy-now", '[data-testid="buy"]')
    assert sorted(r.path.relative_to(repo).as_posix() for r in found) == ["flows/checkout.py", "flows/checkout.spec.ts"]
    assert all(r.count == 1 for r in found), "'#buy-now-label' is a different literal"


def test_diff_applies_with_git_and_matches_direct_application(repo: Path, tmp_path: Path) -> None:
    found = find_literal_replacements(repo, "#buy-now", '[data-testid="buy"]')
    diff = unified_diff(repo, found)
    patch = PatchSuggestion(
        id=patch_id("iss_abc", "k"),
        issue_id="iss_abc",
        component="browser",
        title="t",
        diff=diff,
        rationale="selector changed\nsecond line",
        risk=FixRisk.reversible,
    )
    path = write_patch_file(tmp_path / "patches", patch)
    assert path is not None
    git(repo, "apply", "--check", str(path))
    git(repo, "apply", str(path))
    applied = (repo / "flows" / "checkout.py").read_text()
    assert applied.startswith("await page.click('[data-testid=\"buy\"]')\n")
    assert '"#buy-now-label"' in applied
    git(repo, "checkout", ".")
    changes = apply_replacements(find_literal_replacements(repo, "#buy-now", '[data-testid="buy"]'))
    assert len(changes) == 2
    assert (repo / "flows" / "checkout.py").read_text() == applied


def test_refuses_to_apply_over_a_concurrent_edit(repo: Path) -> None:
    found = find_literal_replacements(repo, "#buy-now", "#buy")
    (repo / "flows" / "checkout.py").write_text('await page.click("#buy-now")  # edited\n')
    with pytest.raises(RuntimeError, match="changed since the patch was computed"):
        apply_replacements(found)


def test_diff_never_contains_secrets(repo: Path) -> None:
    (repo / "flows" / "db.py").write_text('DSN = "postgres://app:hunter2@db/x"\nTABLE = "orders_v1"\n')
    diff = unified_diff(repo, find_literal_replacements(repo, "orders_v1", "orders"))
    assert "hunter2" not in diff and "orders" in diff
