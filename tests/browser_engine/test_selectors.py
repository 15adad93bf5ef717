"""Selector generation: preference order (pure) and uniqueness on a live page (real Chromium)."""

from __future__ import annotations

from typing import Any

import pytest

from healing_mcp.components.browser.capture import capture_candidates, capture_fingerprint
from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.selectors import build_selector, css_escape, selector_candidates

asyncio_module = pytest.mark.asyncio(loop_scope="module")


def test_preference_order_follows_playwright() -> None:
    fp = ElementFingerprint(
        tag="input", id="email", classes=["form-control", "is-active"], role="textbox", accessible_name="Email",
        placeholder="you@example.com", title="Your email", test_id="email-field", text="",
        ancestors=["div#signup-box.row", "form.auth", "body", "html"], index_path=[1, 0, 0, 1],
    )  # fmt: skip
    selectors = selector_candidates(fp)
    assert selectors[0] == '[data-testid="email-field"]'
    order = [
        '[data-testid="email-field"]',
        'role=textbox[name="Email"s]',
        'internal:label="Email"s',
        '[placeholder="you@example.com"]',
        '[title="Your email"]',
        "#email",
        '#signup-box >> role=textbox[name="Email"s]',
        "input.form-control",
        ":root > :nth-child(2) > :nth-child(1) > :nth-child(1) > :nth-child(2)",
    ]
    positions = [selectors.index(s) for s in order]
    assert positions == sorted(positions)
    assert not any(".is-active" in s for s in selectors)  # state classes are not identity


def test_test_id_selector_uses_the_recorded_attribute() -> None:
    fp = ElementFingerprint(tag="button", test_id="pay", test_id_attribute="data-qa", text="Pay")
    selectors = selector_candidates(fp)
    assert selectors[0] == '[data-qa="pay"]'
    assert not any(s.startswith("[data-testid") for s in selectors)
    # Recorded before the attribute was: every test id attribute is offered, data-testid first.
    older = selector_candidates(ElementFingerprint(tag="button", test_id="pay", text="Pay"))
    assert older[:2] == ['[data-testid="pay"]', '[data-test-id="pay"]']


def test_generated_ids_and_classes_are_skipped() -> None:
    fp = ElementFingerprint(tag="button", id=":r7:", classes=["css-1q2w3e4", "primary"], text="Go", role="button",
                            accessible_name="Go", ancestors=["div#ember512", "body", "html"])  # fmt: skip
    selectors = selector_candidates(fp)
    assert not any(":r7:" in s or "ember512" in s or "css-1q2w3e4" in s for s in selectors)
    assert 'role=button[name="Go"s]' in selectors
    assert "button.primary" in selectors


def test_quotes_and_frames_in_selectors() -> None:
    fp = ElementFingerprint(tag="button", role="button", accessible_name='Say "hi"', text='Say "hi"',
                            frame='iframe[name="chat"]')  # fmt: skip
    selectors = selector_candidates(fp)
    assert selectors[0] == 'iframe[name="chat"] >> internal:control=enter-frame >> role=button[name="Say \\"hi\\""s]'


def test_css_escape() -> None:
    assert css_escape("login-btn") == "login-btn"
    assert css_escape("1st") == "\\31 st"
    assert css_escape("a:b.c") == "a\\:b\\.c"


PAGE = """<!doctype html><html><body>
<script>window.clicks = []; document.addEventListener("click", e => {
  const el = e.target.closest("[data-probe]"); if (el) window.clicks.push(el.dataset.probe); });</script>
<header><a href="#home" data-probe="home">Home</a><button data-probe="signin-top" class="btn">Sign in</button></header>
<form id="login" onsubmit="return false">
  <label for="user">User name</label><input id="user" data-probe="user">
  <input placeholder="Search docs" data-probe="search">
  <button id="login-btn" class="btn btn-primary" data-testid="login" data-probe="login">Sign in</button>
  <button class="btn" data-probe="ghost" id=":r1:">Continue as guest</button>
  <img alt="Team photo" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-probe="photo" width="5" height="5">
  <span title="Help text" data-probe="help">?</span>
</form>
<ul class="cards">
  <li id="card-1" class="card"><h3>Blue mug</h3><button class="add" data-probe="add-1">Add to cart</button></li>
  <li id="card-2" class="card"><h3>Green mug</h3><button class="add" data-probe="add-2">Add to cart</button></li>
  <li class="card"><h3>Red mug</h3><button class="add" data-probe="add-3">Add to cart</button></li>
</ul>
</body></html>"""


async def _clicked_by(page: Any, selector: str) -> list[str]:
    await page.evaluate("window.clicks = []")
    await page.locator(selector).click()
    return list(await page.evaluate("window.clicks"))


@asyncio_module
@pytest.mark.parametrize(
    ("probe", "strategy"),
    [
        ("login", "test_id"),
        ("user", "role"),
        ("search", "role"),  # a placeholder is the accessible name of an unlabelled input
        ("photo", "role"),
        ("help", "text"),
        ("ghost", "role"),
        ("home", "role"),
        ("add-2", "scoped role"),
    ],
)
async def test_build_selector_is_unique_and_clicks_the_target(page: Any, pages: Any, probe: str, strategy: str) -> None:
    await page.goto(pages.add("/selectors.html", PAGE))
    target = await page.query_selector(f'[data-probe="{probe}"]')
    choice = await build_selector(page, target)
    assert choice.unique, choice
    assert choice.strategy == strategy, choice
    assert await page.locator(choice.selector).count() == 1
    assert await _clicked_by(page, choice.selector) == [probe]
    locator = eval(choice.python, {"page": page})  # the human rendering is a working locator too
    assert await locator.count() == 1


@asyncio_module
async def test_look_alike_without_id_gets_a_unique_selector(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/selectors.html", PAGE))
    target = await page.query_selector('[data-probe="add-3"]')
    choice = await build_selector(page, target)
    assert choice.unique
    assert await _clicked_by(page, choice.selector) == ["add-3"]


@asyncio_module
async def test_build_selector_uses_a_given_fingerprint(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/selectors.html", PAGE))
    target = await page.query_selector('[data-probe="signin-top"]')
    fp = await capture_fingerprint(target)
    choice = await build_selector(page, target, fp)
    assert await _clicked_by(page, choice.selector) == ["signin-top"]


FRAMED = """<!doctype html><html><body><h1>Shop</h1>
<iframe name="pay" src="/selectors-inner.html"></iframe></body></html>"""
INNER = """<!doctype html><html><body>
<script>window.clicks = []; document.addEventListener("click", e => window.clicks.push(e.target.textContent));</script>
<button>Pay now</button><button>Cancel</button></body></html>"""


@asyncio_module
async def test_selector_for_an_element_inside_an_iframe(page: Any, pages: Any) -> None:
    pages.add("/selectors-inner.html", INNER)
    await page.goto(pages.add("/selectors-framed.html", FRAMED))
    await page.wait_for_load_state("load")
    candidates = await capture_candidates(page)
    pay = next(c for c in candidates if c.fingerprint.accessible_name == "Pay now")
    frame = page.frame(name="pay")
    target = await frame.query_selector("button")
    choice = await build_selector(page, target, pay.fingerprint)
    assert choice.selector == 'iframe[name="pay"] >> internal:control=enter-frame >> role=button[name="Pay now"s]'
    assert choice.python.startswith('page.locator("iframe[name=\\"pay\\"]").content_frame.get_by_role(')
    await page.locator(choice.selector).click()
    assert await frame.evaluate("window.clicks") == ["Pay now"]
    assert await eval(choice.python, {"page": page}).count() == 1


def test_python_spelling_of_built_selectors() -> None:
    from healing_mcp.components.browser.selectors import python_spelling, split_chain

    assert (
        python_spelling('role=button[name="Save \\"all\\""s]')
        == 'get_by_role("button", name="Save \\"all\\"", exact=True)'
    )
    assert python_spelling('[data-testid="pay"]') == 'get_by_test_id("pay")'
    assert python_spelling('[data-qa="pay"]') == 'locator("[data-qa=\\"pay\\"]")'
    assert python_spelling('#card >> text="Add >> more" >> nth=2') == (
        'locator("#card").get_by_text("Add >> more", exact=True).nth(2)'
    )
    assert split_chain('text="a >> b" >> #c') == ['text="a >> b"', "#c"]
