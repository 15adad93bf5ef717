"""`healing-mcp demo` end to end: a real Chromium, a local site, the whole loop, patches that apply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "healing_mcp", "--home", str(tmp_path / ".healing"), "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    assert "Run 2: failed" in out
    assert "DOM updated" in out
    assert "1 selector(s) healed from memory, 2 by similarity (2 matcher call(s))" in out
    assert "3 selector(s) healed from memory, 0 matcher call(s)" in out
    assert "{" not in out.split("Report:")[0], "repairs are told in words, not as parameter dicts"
    # Piped output is not wrapped at 80 columns: each step is one line.
    assert any(
        line.startswith("3. Version 2 ships") and line.endswith("look-alikes added.") for line in out.splitlines()
    )
    demo = tmp_path / ".healing" / "demo"
    report = json.loads((demo / "report.json").read_text())
    assert report["overall"] == "healthy"
    patches = sorted((demo / "patches").glob("*.patch"))
    assert len(patches) == 3
    project = demo / "project"
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    for patch in patches:  # the patches apply one after the other
        subprocess.run(["git", "apply", str(patch)], cwd=project, check=True)
    flow = (project / "shop_agent.py").read_text()
    assert "#email" not in flow and "#remember" not in flow and "#nav-reports" not in flow
