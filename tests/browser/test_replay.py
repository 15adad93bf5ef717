"""replay_step under safe mode: actions, withheld clicks, selector overrides and post-conditions."""

from __future__ import annotations

from typing import Any

import pytest

from healing_mcp.components.browser.replay import replay_step
from healing_mcp.components.browser.safe_mode import SafeMode
from healing_mcp.models import ReplayStep

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP = """<!doctype html><html><head><title>Orders</title></head><body>
<form id="f" method="post" action="/orders">
  <input id="email" name="email" placeholder="Email"
         oninput="document.getElementById('echo').textContent = this.value">
  <select id="plan"><option value="free">Free</option><option value="pro">Pro</option></select>
  <input type="checkbox" id="terms">
  <button id="place">Place order</button>
</form>
<button id="toggle" type="button"
  onclick="document.getElementById('panel').hidden = !document.getElementById('panel').hidden;
           document.title = 'Orders - details';">Show details</button>
<div id="panel" hidden>Panel text</div>
<p id="echo"></p>
<a id="help" href="/help?from=orders">Help</a>
<button class="dup" type="button">One</button><button class="dup" type="button">Two</button>
<button id="off" type="button" disabled>Send later</button>
</body></html>"""


def _serve(server: Any) -> str:
    server.page("/help", "<html><head><title>Help center</title></head><body><h1>Help</h1></body></html>")
    server.page("/orders", "<p>created</p>")
    return server.page("/app", APP)


async def _replay(page: Any, step: ReplayStep, **kwargs: Any) -> Any:
    async with SafeMode(page) as guard:
        return await replay_step(page, step, guard=guard, timeout_ms=1_000, **kwargs)


async def test_click_with_expectations_passes(page, server) -> None:
    url = _serve(server)
    step = ReplayStep(
        action="click",
        target="#toggle",
        url=url,
        expect={
            "visible": "#panel",
            "text_contains": {"selector": "#panel", "text": "Panel text"},
            "title_contains": "details",
            "url_contains": "/app",
        },
    )
    outcome = await _replay(page, step)
    assert outcome.passed, outcome.notes
    assert outcome.blocked == []
    retest = outcome.to_retest_result()
    assert retest.passed


async def test_failed_expectation_fails_the_step(page, server) -> None:
    url = _serve(server)
    outcome = await _replay(page, ReplayStep(action="click", target="#toggle", url=url, expect={"hidden": "#panel"}))
    assert not outcome.passed
    assert any("'#panel' is not hidden" in n for n in outcome.notes)
    outcome = await _replay(page, ReplayStep(action="hover", target="#toggle", url=url, expect={"colour": "red"}))
    assert not outcome.passed
    assert any("unsupported expectation" in n for n in outcome.notes)


async def test_submit_click_is_withheld_but_passes(page, server) -> None:
    url = _serve(server)
    outcome = await _replay(
        page, ReplayStep(action="click", target="#place", url=url, expect={"url_contains": "/orders"})
    )
    assert outcome.passed, outcome.notes
    assert any("withheld for safety" in n and "submit button" in n for n in outcome.notes)
    assert any("post-conditions not checked" in n for n in outcome.notes)
    assert outcome.blocked
    assert outcome.blocked[0].startswith("refused click")
    assert server.writes() == []
    # A refused element that cannot be used does not pass.
    disabled = await _replay(page, ReplayStep(action="click", target="#off", url=url))
    assert not disabled.passed
    assert any("disabled" in n for n in disabled.notes)


async def test_press_enter_in_form_field_writes_nothing(page, server) -> None:
    url = _serve(server)
    fill = ReplayStep(
        action="fill",
        target="#email",
        url=url,
        args={"value": "a@b.example"},
        expect={"text_contains": ["#echo", "a@b.example"]},
    )
    assert (await _replay(page, fill)).passed
    outcome = await _replay(page, ReplayStep(action="press", target="#email", args={"key": "Enter"}))
    assert outcome.passed, outcome.notes
    assert any("blocked submission of #f" in b for b in outcome.blocked)
    assert server.writes() == []


async def test_form_controls_and_reads(page, server) -> None:
    url = _serve(server)
    select = ReplayStep(action="select_option", target="#plan", url=url, args={"value": "pro"})
    assert (await _replay(page, select)).passed
    assert await page.input_value("#plan") == "pro"
    check = ReplayStep(action="check", target="#terms", url=url)
    assert (await _replay(page, check)).passed
    read = await _replay(page, ReplayStep(action="text", target="#help", url=url, args={"contains": "Help"}))
    assert read.passed
    assert any("'Help'" in n for n in read.notes)
    visible = await _replay(page, ReplayStep(action="wait_for", target="#panel", url=url, args={"state": "hidden"}))
    assert visible.passed


async def test_navigation_step_and_link_click(page, server) -> None:
    url = _serve(server)
    link = ReplayStep(
        action="click", target="#help", url=url, expect={"url_contains": "/help", "title_contains": "Help"}
    )
    outcome = await _replay(page, link)
    assert outcome.passed, outcome.notes
    goto = await _replay(page, ReplayStep(action="goto", url=server.url("/help"), expect={"visible": "h1"}))
    assert goto.passed


async def test_missing_and_ambiguous_targets_fail_and_selector_override(page, server) -> None:
    url = _serve(server)
    missing = await _replay(page, ReplayStep(action="click", target="#toggle-old", url=url))
    assert not missing.passed
    assert any("no element matches '#toggle-old'" in n for n in missing.notes)
    healed = await _replay(page, ReplayStep(action="click", target="#toggle-old", url=url), selector="#toggle")
    assert healed.passed, healed.notes
    ambiguous = await _replay(page, ReplayStep(action="click", target=".dup", url=url))
    assert not ambiguous.passed
    assert any("2 elements match" in n for n in ambiguous.notes)
    unknown = await _replay(page, ReplayStep(action="teleport", target="#toggle", url=url))
    assert not unknown.passed


async def test_http_check(page, server) -> None:
    server.asset("/api/data", "{}", status=500, content_type="application/json")
    url = server.page("/dash", "<script>fetch('/api/data?x=1')</script><p>dash</p>")
    step = ReplayStep(action="http_check", target="GET /api/data", url=url, args={"method": "GET", "path": "/api/data"})
    broken = await _replay(page, step)
    assert not broken.passed
    assert any("still answers 500" in n for n in broken.notes)
    server.asset("/api/data", "{}", content_type="application/json")
    fixed = await _replay(page, step)
    assert fixed.passed, fixed.notes


async def test_replay_requires_an_active_guard(page) -> None:
    guard = SafeMode(page)
    with pytest.raises(ValueError, match="active SafeMode"):
        await replay_step(page, ReplayStep(action="click", target="#x"), guard=guard)
