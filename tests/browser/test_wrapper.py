"""The instrumented page against real Chromium: fingerprints on success, events on failure, healing hook."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.fingerprint_store import FingerprintStore
from healing_mcp.components.browser.wrapper import (
    HealDecision,
    InstrumentedLocator,
    InstrumentedPage,
    instrument,
)
from healing_mcp.events import EventReporter

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOP = """<!doctype html><html><head><title>Shop</title></head><body>
<nav><a href="/help">Help</a></nav>
<form id="cart" onsubmit="return false">
  <label for="qty">Quantity</label><input id="qty" name="qty" placeholder="How many">
  <select id="size"><option value="s">Small</option><option value="l">Large</option></select>
  <input type="checkbox" id="gift"> <label for="gift">Gift wrap</label>
  <button type="button" id="add" class="btn primary" data-testid="add-to-cart"
          onclick="document.getElementById('status').textContent='added ' + document.getElementById('qty').value">
    Add to cart</button>
  <button type="button" id="ghost" style="display:none">Hidden</button>
</form>
<p id="status">empty</p>
</body></html>"""


def _wrap(page: Any, reporter: EventReporter, store: FingerprintStore, **options: Any) -> InstrumentedPage:
    return instrument(page, reporter=reporter, store=store, **options)


async def _wait_for_events(events: Any, kind: str, count: int = 1, seconds: float = 5.0) -> list[dict[str, Any]]:
    for _ in range(int(seconds / 0.05)):
        found: list[dict[str, Any]] = events(kind)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    return events(kind)  # type: ignore[no-any-return]


async def test_success_stores_fingerprint_and_behaves_like_a_page(page, server, reporter, store, events) -> None:
    url = server.page("/shop", SHOP)
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(url)
    assert await wrapped.title() == "Shop"  # passthrough
    assert wrapped.raw is page
    qty = wrapped.get_by_placeholder("How many")
    assert isinstance(qty, InstrumentedLocator)
    await qty.fill("3")
    await wrapped.get_by_test_id("add-to-cart").click()
    await wrapped.check("#gift")
    await wrapped.select_option("#size", "l")
    assert await wrapped.inner_text("#status") == "added 3"
    assert await wrapped.locator("#cart").get_by_role("button", name="Add to cart").text_content() is not None

    stored = store.get(url, qty.selector)
    assert stored is not None
    assert stored.fingerprint.tag == "input"
    assert stored.fingerprint.id == "qty"
    add = store.get(url, 'internal:testid=[data-testid="add-to-cart"s]')
    assert add is not None
    assert add.fingerprint.text == "Add to cart"
    assert store.get(url, "#gift") is not None
    assert events() == []  # nothing failed, nothing reported


async def test_missing_selector_reports_event_with_step_and_stored_fingerprint(
    page, server, reporter, store, events
) -> None:
    url = server.page("/shop", SHOP)
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(url)
    await wrapped.click("#add")  # remembered
    await page.evaluate("document.getElementById('add').id = 'add-v2'")  # the site changes
    with pytest.raises(PlaywrightTimeoutError):
        await wrapped.click("#add", timeout=300, expect={"text_contains": {"selector": "#status", "text": "added"}})
    with pytest.raises(PlaywrightTimeoutError):
        await wrapped.locator("#qty-v9").fill("secret-ish text", timeout=300)

    [missing, missing_fill] = events("selector_not_found")
    assert missing["component"] == "browser"
    assert missing["target"] == "#add"
    attrs = missing["attributes"]
    assert attrs["url"] == url
    assert attrs["action"] == "click"
    assert attrs["selector"] == "#add"
    assert attrs["frame"] == ""
    assert attrs["attempts"] == 1
    assert attrs["matched"] == 0
    assert "Timeout" in attrs["error"]
    assert attrs["stored_fingerprint"]["id"] == "add"
    assert attrs["stored_fingerprint"]["text"] == "Add to cart"
    # The agent's post-condition, plus what the successful click did (it stayed on the page).
    assert missing["step"] == {
        "action": "click",
        "target": "#add",
        "url": url,
        "args": {},
        "expect": {"url": url, "text_contains": {"selector": "#status", "text": "added"}},
    }
    assert missing_fill["step"]["args"] == {"value": "secret-ish text"}
    assert "stored_fingerprint" not in missing_fill["attributes"]


async def test_strict_mode_violation_counts_as_not_found(page, server, reporter, store, events) -> None:
    server.page("/shop", SHOP)
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(server.url("/shop"))
    with pytest.raises(PlaywrightError, match="strict mode violation"):
        await wrapped.locator("button").click(timeout=500)
    [event] = events("selector_not_found")
    assert event["attributes"]["matched"] == 2


async def test_timeouts_for_present_but_unusable_elements_and_navigation(page, server, reporter, store, events) -> None:
    server.page("/shop", SHOP)
    slow = server.page("/slow", "<p>late</p>", delay=2.0)
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(server.url("/shop"))
    with pytest.raises(PlaywrightTimeoutError):
        await wrapped.locator("#ghost").click(timeout=300)
    with pytest.raises(PlaywrightTimeoutError):
        await wrapped.goto(slow + "?token=abc", timeout=300)
    element_timeout, nav_timeout = events("timeout")
    assert element_timeout["target"] == "#ghost"
    assert element_timeout["attributes"]["matched"] == 1
    assert nav_timeout["target"] == slow  # query dropped
    assert nav_timeout["step"]["action"] == "goto"
    assert events("selector_not_found") == []


async def test_http_errors_of_subresources(page, server, reporter, store, events) -> None:
    server.asset("/api/boom", "boom", status=500)
    url = server.page(
        "/app",
        """<html><body><img src="/img/missing.png?v=3">
        <script>fetch('/api/boom?user=1').catch(() => {}); fetch('/api/ok');</script></body></html>""",
    )
    server.asset("/api/ok", "{}", content_type="application/json")
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(url)
    found = await _wait_for_events(events, "http_error", 2)
    by_target = {e["target"]: e for e in found}
    assert set(by_target) == {"GET /img/missing.png", "GET /api/boom"}
    boom = by_target["GET /api/boom"]
    assert boom["attributes"]["status"] == 500
    assert boom["severity"] == "error"
    assert boom["attributes"]["request_url"] == server.url("/api/boom")
    assert boom["step"]["action"] == "http_check"
    assert by_target["GET /img/missing.png"]["attributes"]["status"] == 404
    assert by_target["GET /img/missing.png"]["severity"] == "warning"


async def test_navigation_loop_by_redirects(page, server, reporter, store, events) -> None:
    # /a sends the browser to /b and /b back to /a, three rounds, then the loop stops by itself.
    server.page(
        "/a",
        """<script>const n = +(sessionStorage.getItem('n') || 0);
        if (n < 3) { sessionStorage.setItem('n', n + 1); location.replace('/b'); }</script><p id=done>a</p>""",
    )
    server.page("/b", "<script>location.replace('/a')</script>")
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(server.url("/a"))
    [loop] = await _wait_for_events(events, "navigation_loop")
    assert loop["target"] in (
        f"{server.url('/a')} -> {server.url('/b')} -> {server.url('/a')}",
        f"{server.url('/b')} -> {server.url('/a')} -> {server.url('/b')}",
    )
    assert loop["attributes"]["cycle"]
    assert len(loop["attributes"]["cycle"]) == 2
    await page.wait_for_selector("#done")
    assert len(events("navigation_loop")) == 1  # one report per loop, not one per round


async def test_back_and_forth_once_is_not_a_loop(page, server, reporter, store, events) -> None:
    server.page("/a", "<p>a</p>")
    server.page("/b", "<p>b</p>")
    server.page("/c", "<p>c</p>")
    wrapped = _wrap(page, reporter, store)
    for path in ("/a", "/b", "/a", "/c", "/a"):
        await wrapped.goto(server.url(path))
    assert events("navigation_loop") == []


async def test_fingerprint_drift_reported_when_element_changes_a_lot(page, server, reporter, store, events) -> None:
    before = """<form id=f><button type=button id=login class="btn primary" data-testid=login name=go>
        Sign in</button></form>"""
    after = """<div class=nav><span><a id=signin-link class="link" href="/session/new" role=button>
        Sign in</a></span></div>"""
    url = server.page("/login", before)
    wrapped = _wrap(page, reporter, store, capture="always")
    button = wrapped.get_by_role("button", name="Sign in")
    await wrapped.goto(url)
    await button.click()
    await button.click()
    assert events("fingerprint_drift") == []  # same element, no drift
    server.page("/login", after)
    await wrapped.goto(url)
    await button.click()
    [drift] = events("fingerprint_drift")
    assert drift["severity"] == "warning"
    assert drift["target"] == button.selector
    attrs = drift["attributes"]
    assert attrs["similarity"] < 0.75
    assert {"tag", "id", "test_id"} <= set(attrs["changed_fields"])
    assert attrs["old_summary"].startswith("button")
    assert attrs["new_summary"].startswith("a")
    assert attrs["stored_fingerprint"]["id"] == "login"
    assert attrs["new_fingerprint"]["id"] == "signin-link"
    record = store.get(url, button.selector)
    assert record is not None
    assert record.fingerprint.id == "signin-link"
    assert record.seen_count == 2  # written when first seen and when it changed, not for the unchanged click


async def test_persistent_retries_after_three_failures(page, server, reporter, store, events) -> None:
    server.page("/shop", SHOP)
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(server.url("/shop"))
    for attempt in range(1, 4):
        with pytest.raises(PlaywrightTimeoutError):
            await wrapped.click("#checkout", timeout=200)
        assert len(events("persistent_retries")) == (1 if attempt == 3 else 0)
    [retries] = events("persistent_retries")
    assert retries["target"] == "#checkout"
    assert retries["attributes"]["attempts"] == 3
    assert wrapped.failures == {"#checkout": 3}
    # A success resets the run of failures.
    await page.evaluate("document.getElementById('add').id = 'checkout'")
    await wrapped.click("#checkout")
    assert wrapped.failures == {}


FRAMES = """<html><body>
<iframe id="pay" srcdoc="<button id='inner' onclick=&quot;this.textContent='paid'&quot;>Pay in frame</button>"></iframe>
<div id="host"></div>
<script>
  const root = document.getElementById('host').attachShadow({mode: 'open'});
  root.innerHTML = '<button id="shadow-btn" onclick="this.textContent=\\'pressed\\'">Shadow button</button>';
</script></body></html>"""


async def test_iframe_and_open_shadow_root(page, server, reporter, store, events) -> None:
    url = server.page("/frames", FRAMES)
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(url)
    inner = wrapped.frame_locator("#pay").locator("#inner")
    await inner.click()
    assert await inner.inner_text() == "paid"
    assert inner.selector == "#pay >> internal:control=enter-frame >> #inner"
    framed = store.get(url, inner.selector)
    assert framed is not None
    assert framed.fingerprint.id == "inner"
    assert framed.fingerprint.frame == "#pay" or framed.fingerprint.frame.startswith("iframe")

    shadow = wrapped.locator("#shadow-btn")  # CSS pierces open shadow roots
    await shadow.click()
    assert await shadow.inner_text() == "pressed"
    in_shadow = store.get(url, "#shadow-btn")
    assert in_shadow is not None
    assert any("#shadow-root" in a for a in in_shadow.fingerprint.ancestors)

    with pytest.raises(PlaywrightTimeoutError):
        await wrapped.frame_locator("#pay").get_by_role("button", name="Refund").click(timeout=300)
    [missing] = events("selector_not_found")
    assert missing["attributes"]["frame"] == "#pay"
    assert missing["target"].startswith("#pay >> internal:control=enter-frame >> ")


async def test_inline_healing_acts_on_the_healed_selector(page, server, reporter, store, events) -> None:
    url = server.page("/shop", SHOP)
    calls: list[tuple[str, ElementFingerprint | None, str]] = []

    async def healer(raw_page: Any, selector: str, stored: ElementFingerprint | None, action: str) -> HealDecision:
        calls.append((selector, stored, action))
        return HealDecision("[data-testid=add-to-cart]", confidence=0.93, method="test id", notes=["same test id"])

    wrapped = _wrap(page, reporter, store, healer=healer)
    await wrapped.goto(url)
    await wrapped.fill("#qty", "2")
    await wrapped.click("#add")
    await page.evaluate("document.getElementById('add').id = 'add-v2'")

    with pytest.raises(PlaywrightTimeoutError):  # healing is opt-in: off by default
        await wrapped.click("#add", timeout=300)
    assert calls == []

    await wrapped.click("#add", timeout=300, heal=True)
    assert await page.inner_text("#status") == "added 2"
    assert len(calls) == 1
    assert calls[0][0] == "#add"
    assert calls[0][1] is not None
    assert calls[0][1].id == "add"
    assert calls[0][2] == "click"
    # The healed failure is reported once, as `selector_healed` carrying the failure's details; only the
    # unhealed attempt produced a `selector_not_found`.
    assert len(events("selector_not_found")) == 1
    [healed] = events("selector_healed")
    assert healed["attributes"]["stored_fingerprint"]["id"] == "add"
    assert healed["step"]["target"] == "#add"
    assert healed["severity"] == "info"
    assert healed["target"] == "#add"
    assert healed["attributes"]["old_selector"] == "#add"
    assert healed["attributes"]["new_selector"] == "[data-testid=add-to-cart]"
    assert healed["attributes"]["confidence"] == 0.93
    assert healed["attributes"]["method"] == "test id"
    assert store.get(url, "[data-testid=add-to-cart]") is not None


async def test_heal_that_does_not_work_reraises_the_original_error(page, server, reporter, store, events) -> None:
    server.page("/shop", SHOP)

    async def bad_healer(*_: Any) -> HealDecision:
        return HealDecision("#nothing-here", confidence=0.4, method="guess")

    wrapped = _wrap(page, reporter, store, healer=bad_healer, heal=True)
    await wrapped.goto(server.url("/shop"))
    with pytest.raises(PlaywrightTimeoutError, match="#missing"):
        await wrapped.locator("#missing").click(timeout=300)
    assert len(events("selector_heal_failed")) == 1
    assert events("selector_healed") == []


async def test_capture_modes(page, server, reporter, store, events) -> None:
    url = server.page("/shop", SHOP)
    captured: list[str] = []

    async def counting(locator: Any, strict: bool) -> ElementFingerprint:
        captured.append(await locator.evaluate("e => e.id"))
        return ElementFingerprint(tag="button", id=captured[-1])

    always = _wrap(page, reporter, store, fingerprinter=counting)  # the default: every action
    await always.goto(url)
    for _ in range(3):
        await always.click("#add")
    assert captured == ["add", "add", "add"]
    record = store.get(url, "#add")
    assert record is not None
    assert record.seen_count == 1, "an unchanged element is not written again"

    never = _wrap(
        page, reporter, FingerprintStore(store.path.with_name("never.db")), fingerprinter=counting, capture="never"
    )
    await never.click("#add")
    assert len(captured) == 3

    first = _wrap(
        page, reporter, FingerprintStore(store.path.with_name("first.db")), fingerprinter=counting, capture="first"
    )
    await first.click("#add")
    await first.click("#add")
    assert len(captured) == 4  # only the first time per selector


async def test_drift_is_seen_by_default_on_the_first_run_after_a_change(page, server, reporter, store, events) -> None:
    url = server.page("/login", "<button type=button id=login data-testid=login name=go>Sign in</button>")
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(url)
    await wrapped.click("#login")
    await page.evaluate(
        "() => { const b = document.getElementById('login'); b.outerHTML ="
        " '<a id=login class=link href=/session role=button>Sign in</a>'; }"
    )
    await wrapped.click("#login")  # still matches, but it is another element now
    [drift] = events("fingerprint_drift")
    assert {"tag", "test_id"} <= set(drift["attributes"]["changed_fields"])


async def test_unknown_option_is_rejected(page, reporter, store) -> None:
    with pytest.raises(TypeError, match="retry_treshold"):
        instrument(page, reporter=reporter, store=store, retry_treshold=3)


async def test_closing_the_page_is_not_a_failure(context, server, reporter, store, events) -> None:
    own = await context.new_page()
    wrapped = _wrap(own, reporter, store)
    await wrapped.goto(server.page("/shop", SHOP))
    pending = asyncio.ensure_future(wrapped.click("#never-there", timeout=10_000))
    await asyncio.sleep(0.2)
    await own.close()
    with pytest.raises(PlaywrightError):
        await pending
    assert events() == []


async def test_retests_on_an_instrumented_page_report_nothing(page, server, reporter, store, events) -> None:
    from healing_mcp.components.browser.replay import replay_step
    from healing_mcp.components.browser.safe_mode import SafeMode
    from healing_mcp.models import ReplayStep

    url = server.page("/shop", SHOP)
    wrapped = _wrap(page, reporter, store)
    async with SafeMode(wrapped) as guard:
        outcome = await replay_step(
            wrapped, ReplayStep(action="click", target="#gone", url=url), guard=guard, timeout_ms=300
        )
    assert not outcome.passed
    assert events() == []
    assert wrapped.detach() is page


async def test_typed_secrets_are_not_written_to_events(page, server, reporter, store, events) -> None:
    url = server.page("/login", "<input id=pw type=password><input id=user>")
    wrapped = _wrap(page, reporter, store)
    await wrapped.goto(url)
    await wrapped.fill("#pw", "first")  # remembered as a password field
    await page.evaluate("document.getElementById('pw').id = 'pw2'")
    with pytest.raises(PlaywrightTimeoutError):
        await wrapped.fill("#pw", "hunter2-secret", timeout=300)
    with pytest.raises(PlaywrightTimeoutError):
        await wrapped.fill("#password-field", "hunter3-secret", timeout=300)
    text = reporter.path.read_text()
    assert "hunter2-secret" not in text
    assert "hunter3-secret" not in text
    assert [e["step"]["args"]["value"] for e in events("selector_not_found")] == ["[REDACTED]", "[REDACTED]"]


async def test_similarity_healer_with_the_matching_engine(page, server, reporter, store, events) -> None:
    from healing_mcp.components.browser.wrapper import similarity_healer

    url = server.page("/shop", SHOP)
    wrapped = _wrap(page, reporter, store, healer=similarity_healer, heal=True)
    await wrapped.goto(url)
    await wrapped.fill("#qty", "4")
    await wrapped.click("#add")
    # A redesign renames the id and the classes; the button itself is unchanged.
    await page.evaluate("const b = document.getElementById('add'); b.id = 'cart-add-btn'; b.className = 'cta';")
    await wrapped.click("#add", timeout=300)
    assert await page.inner_text("#status") == "added 4"
    [healed] = events("selector_healed")
    new = healed["attributes"]["new_selector"]
    assert await page.locator(new).get_attribute("id") == "cart-add-btn"
    assert healed["attributes"]["confidence"] > 0.5
