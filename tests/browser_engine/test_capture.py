"""Capture in real Chromium: every fingerprint field, shadow DOM, iframes, handles back to elements."""

from __future__ import annotations

from typing import Any

import pytest

from healing_mcp.components.browser.capture import (
    Candidate,
    candidate_handle,
    capture_candidates,
    capture_fingerprint,
)
from healing_mcp.components.browser.fingerprint import ElementFingerprint

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORM = """<!doctype html><html><head><title>Login</title></head><body>
<h1>Welcome back</h1>
<form id="login" class="auth card">
  <div class="row"><label for="email">Email</label>
    <input id="email" name="email" type="email" placeholder="you@example.com" data-qa="email-field"></div>
  <div class="row"><label>Password <input name="password" type="password"></label></div>
  <span id="hint">Use your work account</span>
  <input type="checkbox" aria-labelledby="hint" name="work">
  <p>Before</p>
  <button id="login-btn" class="btn btn-primary" data-testid="login" type="submit">Sign in</button>
  <p>After</p>
  <a href="/forgot?from=login#top" title="Reset it">Forgot?</a>
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Company logo" width="10" height="10">
  <button type="button" aria-label="Close dialog">x</button>
  <button type="button" disabled>Disabled one</button>
  <fieldset disabled><button type="button">In disabled fieldset</button></fieldset>
  <button type="button" style="display:none">Hidden one</button>
  <button type="button" style="visibility:hidden">Invisible one</button>
  <input type="hidden" name="csrf" value="abc">
</form>
</body></html>"""


def by_name(candidates: list[Candidate], name: str) -> ElementFingerprint:
    found = [c.fingerprint for c in candidates if c.fingerprint.accessible_name == name]
    assert len(found) == 1, [c.fingerprint.summary() for c in candidates]
    return found[0]


async def test_fingerprint_fields_of_a_button(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/form.html", FORM))
    fp = await capture_fingerprint(page.locator("#login-btn"))
    assert fp.tag == "button"
    assert fp.id == "login-btn"
    assert fp.classes == ["btn", "btn-primary"]
    assert fp.type == "submit"
    assert fp.role == "button"
    assert fp.accessible_name == "Sign in"
    assert fp.text == "Sign in"
    assert fp.test_id == "login"
    assert fp.test_id_attribute == "data-testid"
    assert "data-testid" not in fp.attributes
    assert fp.xpath == "/html/body/form/button[1]"
    assert fp.index_path[0] == 1  # body is the second child of <html>
    assert fp.ancestors[:3] == ["form#login.auth.card", "body", "html"]
    assert "Before" in fp.neighbor_texts and "After" in fp.neighbor_texts
    assert "Welcome back" in fp.neighbor_texts  # nearest heading
    assert fp.bbox is not None and fp.bbox[2] > 0 and fp.bbox[3] > 0
    assert fp.visible and fp.enabled
    assert fp.frame == ""
    assert fp.url.endswith("/form.html")


async def test_accessible_names_roles_and_attributes(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/form.html", FORM))
    email = await capture_fingerprint(page.locator("#email"))
    assert (email.role, email.accessible_name, email.placeholder, email.name) == (
        "textbox", "Email", "you@example.com", "email"
    )  # fmt: skip
    assert email.test_id == "email-field"  # data-qa counts as a test id
    assert email.test_id_attribute == "data-qa"
    assert "data-qa" not in email.attributes
    assert "Email" in email.neighbor_texts  # its <label>

    password = await capture_fingerprint(page.locator("input[name=password]"))
    assert password.accessible_name == "Password"  # wrapping <label>
    assert password.ancestors[0] == "label"

    labelled = await capture_fingerprint(page.locator("input[name=work]"))
    assert (labelled.role, labelled.accessible_name) == ("checkbox", "Use your work account")

    link = await capture_fingerprint(page.get_by_text("Forgot?"))
    assert (link.role, link.href, link.title) == ("link", "/forgot?from=login#top", "Reset it")

    image = await capture_fingerprint(page.locator("img"))
    assert (image.role, image.accessible_name, image.alt) == ("img", "Company logo", "Company logo")
    assert image.attributes["width"] == "10"

    close = await capture_fingerprint(page.get_by_label("Close dialog"))
    assert (close.accessible_name, close.aria_label, close.text) == ("Close dialog", "Close dialog", "x")


async def test_visibility_and_enabled_state(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/form.html", FORM))
    candidates = await capture_candidates(page)
    assert not by_name(candidates, "Disabled one").enabled
    assert not by_name(candidates, "In disabled fieldset").enabled
    assert by_name(candidates, "Disabled one").visible
    assert not by_name(candidates, "Hidden one").visible
    assert not by_name(candidates, "Invisible one").visible
    assert by_name(candidates, "Sign in").visible
    assert not any(c.fingerprint.name == "csrf" for c in candidates)  # hidden inputs are never targets


async def test_candidates_match_single_capture(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/form.html", FORM))
    single = await capture_fingerprint(page.locator("#login-btn"))
    candidates = await capture_candidates(page)
    bulk = by_name(candidates, "Sign in")
    assert bulk == single


async def test_capture_leaves_no_mark_in_the_dom(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/form.html", FORM))
    before = await page.evaluate("document.documentElement.outerHTML")
    await capture_candidates(page)
    await capture_fingerprint(page.locator("#login-btn"))
    after = await page.evaluate("document.documentElement.outerHTML")
    assert before == after
    assert await page.evaluate("Object.keys(window).filter(k => k.toLowerCase().includes('heal')).length") == 0


SHADOW = """<!doctype html><html><body>
<h2>Status</h2>
<status-card id="card"></status-card>
<script>
  customElements.define("status-card", class extends HTMLElement {
    constructor() {
      super();
      this.attachShadow({mode: "open"}).innerHTML =
        '<div class="inner"><p>All good</p><button class="refresh">Refresh</button></div>';
    }
  });
</script>
</body></html>"""


async def test_candidates_inside_open_shadow_roots(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/shadow.html", SHADOW))
    candidates = await capture_candidates(page)
    refresh = by_name(candidates, "Refresh")
    assert refresh.ancestors[:3] == ["div.inner", "#shadow-root", "status-card#card"]
    assert "/#shadow-root/" in refresh.xpath
    assert "All good" in refresh.neighbor_texts
    handle = await candidate_handle(page, next(c for c in candidates if c.fingerprint is refresh))
    assert await handle.evaluate("el => el.getRootNode() instanceof ShadowRoot")
    single = await capture_fingerprint(page.locator("status-card button"))
    assert single == refresh


FRAME_OUTER = """<!doctype html><html><body style="margin:0">
<h1>Checkout</h1>
<iframe name="payment" src="/frame-inner.html" style="margin-top:40px;width:400px;height:200px;border:0"></iframe>
<iframe title="Chat" src="/frame-chat.html" style="width:300px;height:120px"></iframe>
</body></html>"""
FRAME_INNER = """<!doctype html><html><body style="margin:0">
<label for="cc">Card number</label><input id="cc" name="cardnumber">
<button type="submit">Pay now</button>
</body></html>"""
FRAME_CHAT = """<!doctype html><html><body><button>Open chat</button></body></html>"""


async def test_candidates_inside_iframes_with_frame_paths(page: Any, pages: Any) -> None:
    pages.add("/frame-inner.html", FRAME_INNER)
    pages.add("/frame-chat.html", FRAME_CHAT)
    await page.goto(pages.add("/frame-outer.html", FRAME_OUTER))
    await page.wait_for_load_state("load")
    candidates = await capture_candidates(page)
    pay = next(c for c in candidates if c.fingerprint.accessible_name == "Pay now")
    chat = next(c for c in candidates if c.fingerprint.accessible_name == "Open chat")
    heading = next(c for c in candidates if c.fingerprint.accessible_name == "Checkout")
    assert heading.frame == ""
    assert pay.frame == 'iframe[name="payment"]'
    assert pay.fingerprint.frame == pay.frame
    assert chat.frame == 'iframe[title="Chat"]'
    assert pay.fingerprint.url.endswith("/frame-inner.html")
    # bbox in main-page coordinates: below the heading and the iframe's top margin
    frame_box = await page.locator("iframe[name=payment]").bounding_box()
    assert pay.fingerprint.bbox is not None
    assert pay.fingerprint.bbox[1] >= frame_box["y"] - 1
    handle = await candidate_handle(page, pay)
    assert await handle.evaluate("el => el.textContent") == "Pay now"
    # the frame path is a working selector prefix
    assert await page.locator(pay.frame + " >> internal:control=enter-frame >> text=Pay now").count() == 1
    single = await capture_fingerprint(page.frame_locator("iframe[name=payment]").locator("button"))
    assert single.frame == 'iframe[name="payment"]'
    assert single == pay.fingerprint


async def test_candidate_handles_go_stale_after_a_new_capture(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/form.html", FORM))
    first = await capture_candidates(page)
    await capture_candidates(page)
    with pytest.raises(LookupError):
        await candidate_handle(page, first[0])


async def test_limit_caps_the_number_of_candidates(page: Any, pages: Any) -> None:
    await page.goto(pages.add("/form.html", FORM))
    assert len(await capture_candidates(page, limit=3)) == 3
