"""The whole loop in real Chromium: fingerprint on v1, page changes, capture v2, match, new selector, click."""

from __future__ import annotations

from typing import Any

import pytest

from healing_mcp.components.browser.capture import candidate_handle, capture_candidates, capture_fingerprint
from healing_mcp.components.browser.matching import match_element
from healing_mcp.components.browser.selectors import build_selector

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROBE = """<script>window.clicks = []; document.addEventListener("click", e => {
  const el = e.target.closest("[data-probe]"); if (el) window.clicks.push(el.dataset.probe); });</script>"""

V1 = f"""<!doctype html><html><body>{PROBE}
<h1>Team members</h1>
<table><tbody>
  <tr><td><a href="/u/1">Alice Smith</a></td><td>alice@example.com</td>
      <td><button class="btn btn-edit" data-probe="edit-alice">Edit</button></td></tr>
  <tr><td><a href="/u/2">Bruno Okafor</a></td><td>bruno@example.com</td>
      <td><button class="btn btn-edit" data-probe="edit-bruno">Edit</button></td></tr>
  <tr><td><a href="/u/3">Chen Garcia</a></td><td>chen@example.com</td>
      <td><button class="btn btn-edit" data-probe="edit-chen">Edit</button></td></tr>
</tbody></table>
<form onsubmit="return false"><button id="save-btn" class="btn primary" data-probe="save">Save changes</button></form>
</body></html>"""

# v2: a redesign. New row on top, rows reordered, button classes renamed, labels reworded, wrappers.
V2 = f"""<!doctype html><html><body>{PROBE}
<div class="banner">We moved things around</div>
<h1>Team members</h1>
<table><tbody>
  <tr><td><a href="/u/9">Dana Novak</a></td><td>dana@example.com</td>
      <td><div class="actions">
        <button class="Button_root__x1y2z3" data-probe="edit-dana">Edit member</button></div></td></tr>
  <tr><td><a href="/u/3">Chen Garcia</a></td><td>chen@example.com</td>
      <td><div class="actions">
        <button class="Button_root__x1y2z3" data-probe="edit-chen">Edit member</button></div></td></tr>
  <tr><td><a href="/u/2">Bruno Okafor</a></td><td>bruno@example.com</td>
      <td><div class="actions">
        <button class="Button_root__x1y2z3" data-probe="edit-bruno">Edit member</button></div></td></tr>
  <tr><td><a href="/u/1">Alice Smith</a></td><td>alice@example.com</td>
      <td><div class="actions">
        <button class="Button_root__x1y2z3" data-probe="edit-alice">Edit member</button></div></td></tr>
</tbody></table>
<form onsubmit="return false"><div class="footer"><span>Draft saved</span>
  <button id="submit-profile" class="btn primary" data-probe="save">Save changes</button></div></form>
</body></html>"""

# v3: Bruno's row is gone; other rows still have their own "Edit".
V3 = V1.replace(
    """<tr><td><a href="/u/2">Bruno Okafor</a></td><td>bruno@example.com</td>
      <td><button class="btn btn-edit" data-probe="edit-bruno">Edit</button></td></tr>""",
    "",
)


async def _heal_and_click(page: Any, pages: Any, probe: str, v2: str, failed_selector: str) -> tuple[Any, list[str]]:
    await page.goto(pages.add("/v1.html", V1))
    stored = await capture_fingerprint(page.locator(f'[data-probe="{probe}"]'))
    await page.goto(pages.add("/v2.html", v2))
    assert await page.locator(failed_selector).count() != 1  # the old selector broke
    candidates = await capture_candidates(page)
    result = match_element(stored, [c.fingerprint for c in candidates], failed_selector=failed_selector)
    if not result.healed:
        return result, []
    assert result.index is not None
    handle = await candidate_handle(page, candidates[result.index])
    choice = await build_selector(page, handle, candidates[result.index].fingerprint)
    assert choice.unique
    await page.locator(choice.selector).click()
    return result, list(await page.evaluate("window.clicks"))


@pytest.mark.parametrize("probe", ["edit-bruno", "edit-chen", "edit-alice"])
async def test_heals_the_right_row_after_a_redesign(page: Any, pages: Any, probe: str) -> None:
    name = {"edit-bruno": "Bruno Okafor", "edit-chen": "Chen Garcia", "edit-alice": "Alice Smith"}[probe]
    result, clicks = await _heal_and_click(page, pages, probe, V2, f'tr:has-text("{name}") >> .btn-edit')
    assert result.healed, result.reason
    assert clicks == [probe]
    assert result.confidence > 0.5


async def test_heals_a_renamed_and_moved_button(page: Any, pages: Any) -> None:
    result, clicks = await _heal_and_click(page, pages, "save", V2, "#save-btn")
    assert result.healed, result.reason
    assert clicks == ["save"]


async def test_refuses_when_the_row_is_gone(page: Any, pages: Any) -> None:
    result, clicks = await _heal_and_click(page, pages, "edit-bruno", V3, 'tr:has-text("Bruno Okafor") >> .btn-edit')
    assert not result.healed, result.reason
    assert result.index is None
    assert clicks == []
