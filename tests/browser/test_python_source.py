"""Locating and rewriting exactly what a recorded call site wrote in a Python file."""

from __future__ import annotations

from pathlib import Path

from healing_mcp.core.patches import PythonSource, read_source, replacement, unified_diff, write_replacements


def test_python_source_edits_are_exact(tmp_path: Path) -> None:

    path = tmp_path / "flow.py"
    text = (
        "# «résumé» page\n"
        'SAVE = "#save"\n'
        "async def run(page):\n"
        "    await page.locator(\n"
        '        "#save"\n'
        "    ).click()  # '#save'\n"
        '    await page.get_by_role("row").get_by_role(\n'
        '        "button", name="Save")\n'
    )
    path.write_text(text)
    source = PythonSource(text)
    literal = source.string_edits(5, "#save", 'role=button[name="Save"s]')
    assert [e.line for e in literal] == [5], "only the statement at that line, not the constant or the comment"
    assert literal[0].after == "'role=button[name=\"Save\"s]'"
    (call,) = [c for c in source.calls(7, "get_by_role") if c.args and getattr(c.args[0], "value", "") == "button"]
    edit = source.call_edit(call, 'get_by_text("Save", exact=True)')
    assert edit.before == 'get_by_role(\n        "button", name="Save")'
    read = read_source(path)
    assert read is not None
    change = replacement(path, read[1], [*literal, edit])
    assert change is not None
    assert '-        "#save"' in unified_diff(tmp_path, [change])  # offsets are right after non-ASCII text
    write_replacements([change])
    patched = path.read_text()
    assert 'SAVE = "#save"' in patched and "# '#save'" in patched
    assert '.get_by_role("row").get_by_text("Save", exact=True)' in patched
