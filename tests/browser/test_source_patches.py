"""Source patches for healed selectors, end to end in real Chromium: iframes, get_by_* calls, chained
locators, only the lines that failed; written only when allowed, and put back when the retest fails."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError

from healing_mcp.components.base import ComponentContext
from healing_mcp.components.browser.component import BrowserComponent
from healing_mcp.logs import get_logger
from healing_mcp.models import Environment
from tests.browser.conftest import RecordingServer
from tests.browser.test_component import agent_page, load_flow, make_settings, open_engine

pytestmark = pytest.mark.asyncio(loop_scope="module")


def git_apply(root: Path, patch_file: Path) -> None:
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "apply", str(patch_file)], cwd=root, check=True)


async def heal_offline(settings: Any, browser: Any, config: dict[str, Any] | None = None) -> tuple[Any, list[Any]]:
    async with await open_engine(settings, browser, config) as engine:
        result = await engine.run_supervisor()
        patches = (await engine.manual_patches()).patches
    return result, patches


FRAMED_V1 = '<h1>Checkout</h1><iframe name="pay" src="/pay"></iframe>'
FRAMED_V2 = '<h1>Checkout</h1><div class="wrap"><iframe name="pay" src="/pay"></iframe></div>'
PAY_V1 = '<p>Card</p><button id="next-step" type="button" onclick="this.textContent=\'ok\'">Continue</button>'
PAY_V2 = '<p>Card</p><div><button id="continue-btn" class="b" type="button">Continue</button></div>'
FRAME_FLOW = """NEXT = "#next-step"  # another page's button, written the same way


async def run(page, url, timeout=1000):
    await page.goto(url)
    await page.frame_locator('iframe[name="pay"]').locator("#next-step").click(timeout=timeout)


async def other(page):
    await page.locator(NEXT).click()
"""


async def test_a_heal_inside_an_iframe_patches_only_the_broken_literal(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "checkout.py", FRAME_FLOW)
    url = server.page("/checkout", FRAMED_V1)
    server.page("/pay", PAY_V1)
    page = await context.new_page()
    agent = agent_page(page, settings)
    await flow.run(agent, url)
    server.page("/checkout", FRAMED_V2)
    server.page("/pay", PAY_V2)
    with pytest.raises(PlaywrightError):
        await flow.run(agent, url, timeout=300)
    await page.close()
    result, patches = await heal_offline(settings, browser)
    (outcome,) = result.outcomes
    assert outcome.successful, outcome
    new = outcome.plan.params["new_selector"]
    assert new.startswith('iframe[name="pay"] >> internal:control=enter-frame >> ')
    (patch,) = patches
    git_apply(settings.project_root, settings.patches_dir / f"{patch.id}.patch")
    source = (settings.project_root / "checkout.py").read_text()
    leaf = new.rsplit(" >> ", 1)[1]
    assert f"page.frame_locator('iframe[name=\"pay\"]').locator({leaf!r}).click(timeout=timeout)" in source
    assert 'NEXT = "#next-step"' in source, "the same text elsewhere is not the broken selector"
    patched = load_flow(settings, "checkout.py", source)
    await patched.run(await context.new_page(), url)  # the patched flow works on version 2


SAVE_V1 = (
    '<form onsubmit="return false"><button type="button" onclick="this.textContent=\'Saved\'">Save</button></form>'
)
SAVE_V2 = (  # the button became a link styled as one
    '<form onsubmit="return false"><div class="toolbar"><a href="#" class="btn primary" '
    "onclick=\"this.textContent='Saved'; return false\">Save</a></div></form>"
)
ROLE_FLOW = """async def run(page, url, timeout=1000):
    await page.goto(url)
    await page.get_by_role("button", name="Save").click(timeout=timeout)
"""


async def test_a_get_by_call_is_replaced_by_the_call_for_the_new_element(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "save.py", ROLE_FLOW)
    url = server.page("/save", SAVE_V1)
    page = await context.new_page()
    await flow.run(agent_page(page, settings), url)
    server.page("/save", SAVE_V2)
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, timeout=300)
    result, patches = await heal_offline(settings, browser)
    assert result.resolved, result
    (patch,) = patches
    assert '-    await page.get_by_role("button", name="Save").click(timeout=timeout)' in (patch.diff or "")
    assert '+    await page.get_by_role("link", name="Save", exact=True).click(timeout=timeout)' in (patch.diff or "")
    git_apply(settings.project_root, settings.patches_dir / f"{patch.id}.patch")
    patched = load_flow(settings, "save.py", (settings.project_root / "save.py").read_text())
    fresh = await context.new_page()
    await patched.run(fresh, url)
    assert await fresh.inner_text(".primary") == "Saved"


CART_V1 = '<div id="cart"><button class="buy" type="button">Add</button></div><button class="buy">Other</button>'
CART_V2 = '<div id="cart"><button class="purchase" type="button">Add</button></div><button class="buy">Other</button>'
CHAIN_FLOW = """async def run(page, url, scope="#cart", timeout=1000):
    await page.goto(url)
    cart = page.locator(scope)
    await cart.locator(".buy").click(timeout=timeout)
"""


async def test_a_chained_locator_keeps_its_scope(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "cart.py", CHAIN_FLOW)
    url = server.page("/cart", CART_V1)
    await flow.run(agent_page(await context.new_page(), settings), url)
    server.page("/cart", CART_V2)
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, timeout=300)
    result, patches = await heal_offline(settings, browser)
    assert result.resolved, result
    (patch,) = patches
    diff = patch.diff or ""
    assert '-    await cart.locator(".buy").click(timeout=timeout)' in diff
    assert "cart = page.locator(scope)" not in diff.replace(" cart = page.locator(scope)", "")  # scope kept
    git_apply(settings.project_root, settings.patches_dir / f"{patch.id}.patch")
    patched = load_flow(settings, "cart.py", (settings.project_root / "cart.py").read_text())
    await patched.run(await context.new_page(), url)


async def test_a_chain_whose_scope_is_gone_is_not_patched(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "cart.py", CHAIN_FLOW)
    url = server.page("/cart", CART_V1)
    await flow.run(agent_page(await context.new_page(), settings), url)
    server.page("/cart", CART_V2.replace('id="cart"', 'id="basket"'))
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, timeout=300)
    result, patches = await heal_offline(settings, browser)
    (outcome,) = result.outcomes
    assert outcome.result is not None
    assert any("enclosing locator matched nothing" in n for n in outcome.result.notes)
    assert not [p for p in patches if p.diff]


LINK_V1 = '<h1>Step</h1><a id="go" href="/done">Continue</a>'
LINK_V2 = '<h1>Step</h1><div><a id="next-link" class="l" href="/done">Continue</a></div>'
THANKS_FLOW = """async def run(page, url, timeout=1000):
    await page.goto(url)
    await page.click("#go", expect={"text_contains": "Thanks"}, timeout=timeout)\r
"""


async def test_a_source_rewrite_is_reverted_when_the_retest_fails(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "thanks.py", THANKS_FLOW)
    path = settings.project_root / "thanks.py"
    path.chmod(0o750)
    original = path.read_bytes()
    url = server.page("/step", LINK_V1)
    server.page("/done", "<p>Thanks for your order</p>")
    await flow.run(agent_page(await context.new_page(), settings), url)
    server.page("/step", LINK_V2)
    server.page("/done", "<p>Order page moved</p>")  # the healed link works, the post-condition does not
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, timeout=300)
    result, patches = await heal_offline(settings, browser, {"apply_source_patches": True})
    (outcome,) = result.outcomes
    assert not outcome.successful
    assert outcome.result is not None and any("patched" in c for c in outcome.result.changes)
    assert any(n.startswith("restored") for n in outcome.result.notes), outcome.result.notes
    assert path.read_bytes() == original, "byte for byte, line endings included"
    assert path.stat().st_mode & 0o777 == 0o750
    assert not [p for p in patches if p.reason == "make_permanent"]


async def test_a_source_rewrite_stays_when_the_retest_passes_and_needs_approval_outside_dev(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    for env, rewritten in ((Environment.staging, False), (Environment.dev, True)):
        settings = make_settings(tmp_path / env.value, env=env)
        flow = load_flow(settings, "thanks.py", THANKS_FLOW.replace('expect={"text_contains": "Thanks"}, ', ""))
        path = settings.project_root / "thanks.py"
        url = server.page("/step", LINK_V1)
        server.page("/done", "<p>Thanks</p>")
        await flow.run(agent_page(await context.new_page(), settings), url)
        server.page("/step", LINK_V2)
        with pytest.raises(PlaywrightError):
            await flow.run(agent_page(await context.new_page(), settings), url, timeout=300)
        result, patches = await heal_offline(settings, browser, {"apply_source_patches": True})
        assert ("#go" not in path.read_text()) is rewritten, env
        assert path.read_bytes().endswith(b"\r\n"), "line endings survive the rewrite"
        if not rewritten:  # needs approval in staging: offered as a patch instead
            assert [p.reason for p in patches] == ["needs_approval"]
            assert patches[0].diff
        else:
            assert result.resolved and patches == []


async def test_revert_leaves_a_file_edited_since_alone(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = load_flow(settings, "thanks.py", THANKS_FLOW)
    path = settings.project_root / "thanks.py"
    url = server.page("/step", LINK_V1)
    server.page("/done", "<p>Thanks</p>")
    await flow.run(agent_page(await context.new_page(), settings), url)
    server.page("/step", LINK_V2)
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, timeout=300)
    component = BrowserComponent()
    component.configure(settings, {"apply_source_patches": True})
    component.use_browser(browser)
    fixer = component.fixers[0]
    async with await open_engine(settings, browser) as engine:
        await engine.supervisor.ingest()
        (issue,) = (await engine.report()).issues
        ctx = ComponentContext(settings=settings, config={}, store=engine.store, log=get_logger("test"))
        (plan,) = await fixer.propose(issue, ctx)
        result = await fixer.apply(issue, plan, ctx)
        assert "#go" not in path.read_text()
        edited = path.read_text() + "# a human's edit\n"
        path.write_text(edited)
        await fixer.revert(issue, plan, result, ctx)  # type: ignore[attr-defined]
    assert path.read_text() == edited
    assert any("left" in n and "edited after the fix wrote it" in n for n in result.notes)
