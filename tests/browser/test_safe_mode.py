"""Safe mode against real Chromium: no write reaches the server, risky clicks are refused.

The control test proves the same page does write without safe mode, so the zero-write assertions can fail.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from healing_mcp.components.browser.safe_mode import SafeMode, SafeModeRefusal

pytestmark = pytest.mark.asyncio(loop_scope="module")

COMPOSE = """<!doctype html><html><head><title>Compose</title></head><body>
<form id="post-form" method="post" action="/submit">
  <input id="title" name="title" placeholder="Title">
  <button id="send">Send</button>
  <button id="wrapped"><span id="inner-span">Continue</span></button>
</form>
<form id="search" method="get" action="/search"><input id="q" name="q"><button type="submit" id="go">Go</button></form>
<button id="draft" type="button" onclick="fetch('/api/draft', {method: 'POST', body: 'x'})
  .then(() => { document.getElementById('out').textContent = 'saved'; })
  .catch(() => { document.getElementById('out').textContent = 'blocked'; })">Save draft</button>
<button id="buy" type="button">Buy now</button>
<button id="trash" type="button" aria-label="Delete item">X</button>
<span id="label-src">Confirm transfer</span><button id="labelled" type="button" aria-labelledby="label-src">OK</button>
<input id="sendbtn" type="button" value="Send it">
<button id="postcode" type="button">Postcode lookup</button>
<button id="plain" type="button">Show details</button>
<a id="next" href="/next">Next page</a>
<p id="out"></p>
</body></html>"""


def _serve(server: Any) -> str:
    server.page("/submit", "<p>sent</p>")
    server.page("/api/draft", "ok")
    server.page("/search", "<p>results</p>")
    return server.page("/compose", COMPOSE)


async def _settle_network(page: Any) -> None:
    # Give any request the page started time to reach the server before counting writes.
    await asyncio.sleep(0.3)
    await page.evaluate("() => 0")


async def test_control_the_page_really_writes_without_safe_mode(page, server) -> None:
    url = _serve(server)
    await page.goto(url)
    await page.fill("#title", "Hello")
    async with page.expect_navigation():
        await page.press("#title", "Enter")
    await page.goto(url)
    await page.click("#draft")
    await page.wait_for_function("document.getElementById('out').textContent === 'saved'")
    assert ("POST", "/submit") in server.writes()
    assert ("POST", "/api/draft") in server.writes()


async def test_safe_mode_lets_no_write_through(page, server) -> None:
    url = _serve(server)
    await page.goto(url)
    async with SafeMode(page) as guard:
        await guard.fill(page.locator("#title"), "Hello")
        await guard.press(page.locator("#title"), "Enter")  # implicit submission
        await page.locator("#send").click()  # a raw click, past check_click
        await page.locator("#inner-span").click()
        await page.locator("#go").click()  # GET forms do not submit either
        await page.locator("#draft").click()
        await page.wait_for_function("document.getElementById('out').textContent === 'blocked'")
        await page.evaluate("document.getElementById('post-form').submit()")
        await page.evaluate("document.getElementById('post-form').requestSubmit()")
        await page.evaluate("navigator.sendBeacon('/api/beacon', 'x')")
        await page.goto(url)  # a new document is guarded too
        await page.locator("#send").click()
        await _settle_network(page)
        await guard.settle()
        assert page.url == url
        assert server.writes() == []
        assert not any(path.startswith("/search") for _, path in server.requests)
        assert f"blocked POST request to {server.url('/api/draft')}" in guard.blocked
        assert ("POST", server.url("/api/beacon")) in guard.blocked_requests
        submissions = [b for b in guard.blocked if b.startswith("blocked submission")]
        assert len(submissions) == 7
        assert f"blocked submission of #post-form (submit event): POST {server.url('/submit')}" in submissions
        assert any("form.submit()" in s for s in submissions)
        assert any("form.requestSubmit()" in s for s in submissions)

    # Leaving safe mode restores the page: the same click posts again.
    async with page.expect_navigation():
        await page.locator("#send").click()
    assert server.writes() == [("POST", "/submit")]


async def test_safe_mode_on_a_context_guards_new_pages(context, server) -> None:
    url = _serve(server)
    async with SafeMode(context) as guard:
        page = await context.new_page()
        await page.goto(url)
        await page.locator("#send").click()
        await page.locator("#draft").click()
        await page.wait_for_function("document.getElementById('out').textContent === 'blocked'")
        await _settle_network(page)
        await guard.settle()
    assert server.writes() == []
    assert len(guard.blocked) == 2


CHECK_CASES: list[tuple[str, str | None]] = [
    ("#send", "is a submit button"),
    ("#inner-span", "is a submit button"),
    ("#go", "is a submit button"),
    ("#buy", 'contains "buy"'),
    ("#trash", 'aria-label contains "delete"'),
    ("#labelled", 'accessible name contains "confirm"'),
    ("#sendbtn", 'value contains "send"'),
    ("#postcode", None),  # "post" only as part of a longer word
    ("#plain", None),
    ("#next", None),
    ("#draft", None),
]


async def test_check_click(page, server) -> None:
    await page.goto(_serve(server))
    async with SafeMode(page) as guard:
        for selector, expected in CHECK_CASES:
            reason = await guard.check_click(page.locator(selector))
            handle_reason = await guard.check_click(await page.query_selector(selector))
            if expected is None:
                assert reason is None, selector
            else:
                assert reason is not None, selector
                assert expected in reason, (selector, reason)
            assert handle_reason == reason


async def test_guard_click_refuses_and_records(page, server) -> None:
    await page.goto(_serve(server))
    async with SafeMode(page, extra_block_words=["details"]) as guard:
        with pytest.raises(SafeModeRefusal, match="Buy now"):
            await guard.click(page.locator("#buy"))
        with pytest.raises(SafeModeRefusal, match="details"):
            await guard.click(page.locator("#plain"))
        with pytest.raises(SafeModeRefusal):
            await guard.press(page.locator("#send"), "Enter")
        await guard.click(page.locator("#next"))  # a plain link is fine
        await page.wait_for_url("**/next")
    assert [b.split(":")[0] for b in guard.blocked] == ["refused click", "refused click", "refused press Enter"]
    assert server.writes() == []


async def test_custom_words_replace_the_defaults(page, server) -> None:
    await page.goto(_serve(server))
    async with SafeMode(page, block_words=["lookup"]) as guard:
        assert await guard.check_click(page.locator("#buy")) is None
        assert "lookup" in (await guard.check_click(page.locator("#postcode")) or "")
        assert "submit button" in (await guard.check_click(page.locator("#send")) or "")


async def test_checks_and_selections_with_risky_labels_are_refused(page, server) -> None:
    await page.goto(
        server.page(
            "/prefs",
            """<input type="checkbox" id="terms"><label for="terms">I have read the terms</label>
            <input type="checkbox" id="sub"><label for="sub">Subscribe to the paid plan</label>
            <select id="bulk" aria-label="Bulk action"><option value="">Choose</option>
            <option value="tag">Tag</option><option value="rm">Remove selected</option></select>""",
        )
    )
    async with SafeMode(page, block_words=["subscribe", "remove"]) as guard:
        await guard.set_checked(page.locator("#terms"), True)
        with pytest.raises(SafeModeRefusal, match='"subscribe"'):
            await guard.set_checked(page.locator("#sub"), True)
        assert await guard.select_option(page.locator("#bulk"), value="tag") == ["tag"]
        with pytest.raises(SafeModeRefusal, match="chosen option"):
            await guard.select_option(page.locator("#bulk"), label="Remove selected")
    assert await page.is_checked("#terms") and not await page.is_checked("#sub")
    assert await page.input_value("#bulk") == "tag"
    assert [b.split(":")[0] for b in guard.blocked] == ["refused check", "refused select an option"]


async def test_navigation_refusals_name_the_setting_to_change(page) -> None:
    guard = SafeMode(page, allowed_origins=["https://shop.example"])
    assert guard.navigation_refusal("https://shop.example/cart?id=1") is None
    assert guard.navigation_refusal("http://localhost:8080/admin") is None  # loopback
    assert guard.navigation_refusal("http://[::1]/") is None
    refusal = guard.navigation_refusal("http://169.254.169.254/latest/meta-data")
    assert refusal is not None and "allowed_origins" in refusal
    assert "not an http(s) address" in (guard.navigation_refusal("file:///etc/passwd") or "")
    assert SafeMode(page).navigation_refusal("http://anywhere.example/") is None  # no list: no restriction
