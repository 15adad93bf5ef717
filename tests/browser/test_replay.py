"""replay_step under safe mode: actions, withheld clicks, selector overrides and post-conditions."""

from __future__ import annotations

import asyncio
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


async def test_a_withheld_submit_click_is_not_verified(page, server) -> None:
    url = _serve(server)
    outcome = await _replay(
        page, ReplayStep(action="click", target="#place", url=url, expect={"url_contains": "/orders"})
    )
    assert not outcome.passed, "a click that was not made proves nothing"
    assert any(n.startswith("not verified") and "submit button" in n for n in outcome.notes)
    assert any("found, visible and enabled" in n for n in outcome.notes)
    assert any("post-conditions not checked" in n for n in outcome.notes)
    assert outcome.blocked
    assert outcome.blocked[0].startswith("refused click")
    assert server.writes() == []
    # A refused element that cannot be used says so.
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


async def test_a_fill_must_leave_its_value(page, server) -> None:
    url = server.page(
        "/fields",
        """<input id="free"><input id="upper" oninput="this.value = this.value.toUpperCase()">
        <input id="pw" type="password">""",
    )
    assert (await _replay(page, ReplayStep(action="fill", target="#free", url=url, args={"value": "ada"}))).passed
    rewritten = await _replay(page, ReplayStep(action="fill", target="#upper", url=url, args={"value": "ada"}))
    assert not rewritten.passed
    assert rewritten.notes == ["the field does not hold the typed value"]  # no value is ever quoted
    masked = await _replay(page, ReplayStep(action="fill", target="#pw", url=url, args={"value": "[REDACTED]"}))
    assert masked.passed, masked.notes
    typed = ReplayStep(action="press_sequentially", target="#free", url=url, args={"value": "bob"})
    assert (await _replay(page, typed)).passed


async def test_checks_and_selections_are_guarded(page, server) -> None:
    url = server.page(
        "/settings",
        """<input type="checkbox" id="news"><label for="news">Weekly news</label>
        <input type="checkbox" id="erase"><label for="erase">Delete my account</label>
        <select id="act"><option value="keep">Keep</option><option value="drop">Delete everything</option></select>""",
    )
    assert (await _replay(page, ReplayStep(action="check", target="#news", url=url))).passed
    erase = await _replay(page, ReplayStep(action="check", target="#erase", url=url))
    assert not erase.passed
    assert any(n.startswith("not verified") and '"delete"' in n for n in erase.notes)
    assert (
        await _replay(page, ReplayStep(action="select_option", target="#act", url=url, args={"value": "keep"}))
    ).passed
    drop = await _replay(page, ReplayStep(action="select_option", target="#act", url=url, args={"value": "drop"}))
    assert not drop.passed
    assert any("chosen option" in n for n in drop.notes)


async def test_the_recorded_effect_of_a_click_is_checked(page, server) -> None:
    url = _serve(server)
    step = ReplayStep(action="click", target="#help", url=url, expect={"url": server.url("/help")})
    assert (await _replay(page, step)).passed
    elsewhere = await _replay(page, step.model_copy(update={"expect": {"url": server.url("/orders")}}))
    assert not elsewhere.passed
    assert any("where the original action led" in n for n in elsewhere.notes)


async def test_recorded_assertions_are_replayed(page, server) -> None:
    url = _serve(server)
    holds = ReplayStep(
        action="expect", target="#help", url=url, args={"assertion": "to_have_text", "args": ["Help"], "kwargs": {}}
    )
    assert (await _replay(page, holds)).passed
    regex = holds.model_copy(update={"args": {"assertion": "to_have_text", "args": [{"regex": "^Nope", "flags": 32}]}})
    assert not (await _replay(page, regex)).passed
    title = ReplayStep(action="expect", url=url, args={"assertion": "to_have_title", "args": ["Orders"]})
    assert (await _replay(page, title)).passed


async def test_content_rendered_after_load_is_waited_for(page, server) -> None:
    server.page("/api/items", '["Export CSV"]', delay=0.6)  # a slow API: the page renders after load
    url = server.page(
        "/late",
        """<div id="root">loading</div><script>
        fetch('/api/items').then(r => r.json()).then(items => {
          document.getElementById('root').innerHTML = items.map(i => `<button>${i}</button>`).join('');
        });</script>""",
    )
    async with SafeMode(page) as guard:
        outcome = await replay_step(
            page, ReplayStep(action="goto", url=url, expect={"visible": "text=Export CSV"}), guard=guard, timeout_ms=200
        )
    assert outcome.passed, outcome.notes  # a 200 ms check holds only because the page settled first


async def test_navigation_is_kept_on_allowed_origins(page, server) -> None:
    url = _serve(server)
    server.page("/away", "<script>location.href = 'http://10.255.255.1/admin'</script>")
    async with SafeMode(page, allowed_origins=["https://shop.example"]) as guard:
        refused = await replay_step(
            page, ReplayStep(action="goto", url="http://169.254.169.254/latest/meta-data"), guard=guard
        )
        assert not refused.passed
        assert any("not an origin this component works on" in n for n in refused.notes)
        assert (await replay_step(page, ReplayStep(action="goto", url=url), guard=guard)).passed  # loopback
        await page.goto(server.url("/away"))  # the page itself tries to leave for another host

        async def blocked() -> bool:
            return any(b.startswith("blocked navigation to http://10.255.255.1/admin") for b in guard.blocked)

        await page.wait_for_function("() => true")
        for _ in range(100):
            if await blocked():
                break
            await asyncio.sleep(0.05)
        assert await blocked(), guard.blocked
        assert not page.url.startswith("http://10.255.255.1")


MENU = """<button id="menu" type="button" aria-expanded="false"
  onclick="this.setAttribute('aria-expanded', this.getAttribute('aria-expanded') === 'true' ? 'false' : 'true')">
  Account</button><button id="plain" type="button" aria-expanded="false">Help</button>
<details><summary id="more">More</summary><p>Hidden text</p></details>"""


async def test_a_click_that_opened_something_must_open_it_again(page, server) -> None:
    url = server.page("/menu", MENU)
    for target in ("#menu", "#more"):
        step = ReplayStep(action="click", target=target, url=url, expect={"url": url, "opened": True})
        assert (await _replay(page, step)).passed, target
    inert = await _replay(page, ReplayStep(action="click", target="#plain", url=url, expect={"opened": True}))
    assert not inert.passed
    assert inert.notes == ["it did not open what the original action did"]
