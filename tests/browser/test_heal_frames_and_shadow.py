"""Healing inside iframes and open shadow roots, inline and offline, and healing with no reference run:
real Chromium, pages served from 127.0.0.1, the wrapper as an agent uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError

from healing_mcp.components.browser.healer import MemoryHealer, heal_page
from tests.browser.conftest import EventReader, RecordingServer
from tests.browser.test_component import agent_page, load_flow, make_settings, open_engine

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAIN_V1 = """<h1>Shop</h1><iframe name="pay" src="/frame"></iframe><shop-card id="sc"></shop-card>
<script>customElements.define("shop-card", class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: "open"}).innerHTML = `<div class="c"><h3>Mug</h3>
  <button id="wish-btn" type="button" onclick="this.textContent = 'Wished'">Add to wishlist</button></div>`; } });
</script>"""
MAIN_V2 = """<h1>Shop</h1><div class="wrap"><iframe name="pay" src="/frame"></iframe></div>
<shop-card id="sc"></shop-card>
<script>customElements.define("shop-card", class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: "open"}).innerHTML = `<div class="card2"><h3>Mug</h3><span>
  <button id="wishlist-cta" class="x" type="button" onclick="this.textContent = 'Wished'">Add to wishlist</button>
  </span></div>`; } });
</script>"""
FRAME_V1 = """<p>Card details</p><input id="cardholder" name="holder" placeholder="Name on card">
<button id="next-step" type="button" onclick="this.textContent = 'Next'">Continue</button>"""
FRAME_V2 = """<p>Card details</p><div class="f"><input id="holder-name" name="holder" placeholder="Name on card"></div>
<div><button id="continue-btn" class="b" type="button" onclick="this.textContent = 'Next'">Continue</button></div>"""

FLOW = """async def run(page, url, timeout=1000):
    await page.goto(url)
    payment = page.frame_locator('iframe[name="pay"]')
    await payment.locator("#cardholder").fill("Ada Lovelace", timeout=timeout)
    await payment.locator("#next-step").click(timeout=timeout)
    await page.locator("#wish-btn").click(timeout=timeout)
"""


def serve(server: RecordingServer, version: int) -> str:
    server.page("/frame", FRAME_V1 if version == 1 else FRAME_V2)
    return server.page("/main", MAIN_V1 if version == 1 else MAIN_V2)


async def assert_flow_did_its_work(page: Any) -> None:
    frame = page.frame(name="pay")
    assert await frame.input_value("input[name=holder]") == "Ada Lovelace"
    assert await frame.inner_text("button") == "Next"
    assert await page.inner_text("shop-card button") == "Wished"


async def test_inline_healing_in_an_iframe_and_a_shadow_root(
    context: Any, server: RecordingServer, tmp_path: Path, events: EventReader
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "shop.py", FLOW)
    url = serve(server, 1)
    await flow.run(agent_page(await context.new_page(), settings), url)
    url = serve(server, 2)
    page = await context.new_page()
    healer = MemoryHealer(settings)
    await flow.run(heal_page(page, settings=settings, healer=healer), url, timeout=500)
    await assert_flow_did_its_work(page)
    assert healer.healed_by_similarity == 3
    await healer.aclose()
    healed = [e for e in _events(settings) if e["kind"] == "selector_healed"]
    by_old = {e["attributes"]["old_selector"]: e["attributes"]["new_selector"] for e in healed}
    frame = 'iframe[name="pay"] >> internal:control=enter-frame >> '
    assert set(by_old) == {f"{frame}#cardholder", f"{frame}#next-step", "#wish-btn"}
    assert by_old[f"{frame}#next-step"].startswith(frame), "the agent's own frame chain is kept"
    fresh = await context.new_page()
    await fresh.goto(url)
    assert await fresh.locator(by_old["#wish-btn"]).count() == 1  # reaches into the shadow root


async def test_offline_healing_in_an_iframe_and_a_shadow_root(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "shop.py", FLOW)
    url = serve(server, 1)
    await flow.run(agent_page(await context.new_page(), settings), url)
    url = serve(server, 2)
    # Each broken step fails once (the flow stops at the first failure, so run the steps one by one).
    page = agent_page(await context.new_page(), settings)
    await page.goto(url)
    payment = page.frame_locator('iframe[name="pay"]')
    for step in (
        lambda: payment.locator("#cardholder").fill("Ada Lovelace", timeout=300),
        lambda: payment.locator("#next-step").click(timeout=300),
        lambda: page.locator("#wish-btn").click(timeout=300),
    ):
        with pytest.raises(PlaywrightError):
            await step()
    async with await open_engine(settings, browser) as engine:
        result = await engine.run_supervisor()
        assert len(result.resolved) == 3, [(o.plan.params, o.retest) for o in result.outcomes]
        # The heals are in memory: the next run heals them without matching.
        healer = MemoryHealer(settings)
        fresh = await context.new_page()
        await flow.run(heal_page(fresh, settings=settings, healer=healer), url, timeout=500)
        await assert_flow_did_its_work(fresh)
        assert (healer.healed_from_memory, healer.matcher_calls) == (3, 0)
        await healer.aclose()


def _events(settings: Any) -> list[dict[str, Any]]:
    import json

    return [
        json.loads(line)
        for path in sorted(settings.resolved_events_dir.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


NO_REFERENCE = """<form onsubmit="return false"><h2>Profile</h2>
<button type="button" onclick="document.getElementById('out').textContent = 'saved'">Save changes</button>
<button type="button">Cancel</button></form><p id="out"></p>"""
FIRST_RUN = """async def run(page, url, timeout=1000):
    await page.goto(url)
    await page.get_by_role("button", name="Save", exact=True).click(timeout=timeout)
"""


async def test_inline_healing_without_a_reference_run(context: Any, server: RecordingServer, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "profile.py", FIRST_RUN)
    url = server.page("/profile", NO_REFERENCE)
    page = await context.new_page()
    healer = MemoryHealer(settings)
    await flow.run(heal_page(page, settings=settings, healer=healer), url, timeout=500)  # never ran before
    assert await page.inner_text("#out") == "saved"
    assert healer.healed_by_similarity == 1
    await healer.aclose()
    [healed] = [e for e in _events(settings) if e["kind"] == "selector_healed"]
    assert "stored_fingerprint" not in healed["attributes"], "healed from what the selector says"


async def test_offline_healing_without_a_reference_run(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "profile.py", FIRST_RUN)
    url = server.page("/profile", NO_REFERENCE)
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, timeout=300)
    async with await open_engine(settings, browser) as engine:
        result = await engine.run_supervisor()
        assert result.resolved, result
        issue = await engine.get_issue(result.resolved[0])
        assert "no successful run was recorded" in issue.probable_causes[0]
        (patch,) = (await engine.manual_patches()).patches
    assert '+    await page.get_by_role("button", name="Save changes", exact=True).click(timeout=timeout)' in (
        patch.diff or ""
    )
