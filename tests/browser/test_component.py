"""The browser component inside the healing loop: offline heals, refusals, safe retests, inline memory."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from healing_mcp.components.browser.component import BrowserComponent
from healing_mcp.components.browser.fingerprint_store import FingerprintStore
from healing_mcp.components.browser.healer import MemoryHealer, heal_page
from healing_mcp.components.browser.wrapper import instrument
from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings, load_settings
from healing_mcp.core.engine import Engine
from healing_mcp.events import EventReporter
from healing_mcp.models import Environment, IssueState
from tests.browser.conftest import RecordingServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

V1 = """<html><body><form action="/order" method="post">
<label for="qty">Quantity</label><input id="qty" name="qty">
<button id="buy-now" class="btn primary" type="submit">Buy now</button></form>
<button id="help" type="button">Help</button></body></html>"""
V2 = """<html><body><div class="card"><form action="/order" method="post">
<div class="row"><label for="quantity">Quantity</label><input id="quantity" name="qty"></div>
<div class="actions"><button id="purchase-cta" class="button button--primary" type="submit">Buy now</button></div>
</form></div><button id="help" type="button">Help</button></body></html>"""
AMBIGUOUS = """<html><body><form action="/order" method="post"><input id="quantity" name="qty">
<button class="b" type="submit">Buy now</button></form>
<form action="/order" method="post"><button class="b" type="submit">Buy now</button></form></body></html>"""


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base = {
        "home": tmp_path / ".healing",
        "project_root": tmp_path / "project",
        "llm": "off",
        "env": Environment.dev,
        "database_url": None,
        "supabase_url": None,
    }
    return load_settings(tmp_path / "absent.toml", **{**base, **overrides})


def load_flow(settings: Settings, relative: str, code: str) -> Any:
    """Write an agent flow into the project and import it: the wrapper then records call sites in the
    project's own source, as it does for a real agent."""
    path = settings.project_root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(f"flow_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def open_engine(settings: Settings, browser: Any, config: dict[str, Any] | None = None) -> Engine:
    component = BrowserComponent()
    component.configure(settings, config or {})
    component.use_browser(browser)
    registry = Registry()
    registry.register(component)
    return await Engine.open(settings, registry)


def agent_page(page: Any, settings: Settings, **options: Any) -> Any:
    return instrument(
        page,
        reporter=EventReporter(settings.resolved_events_dir),
        store=FingerprintStore(settings.home / "browser" / "fingerprints.db"),
        **options,
    )


BUY_FLOW = """async def record(page, url):
    await page.goto(url)
    await page.fill("#qty", "2")
    await page.locator("#buy-now").hover()


async def buy(page, url):
    await page.goto(url)
    await page.locator("#buy-now").hover(timeout=500)
"""


async def record_then_break(context: Any, server: RecordingServer, settings: Settings, v2: str) -> Path:
    """Agent run on v1 (fingerprints recorded), then the page changes and the hover fails."""
    flow = load_flow(settings, "flows/buy.py", BUY_FLOW)
    url = server.page("/shop", V1)
    page = await context.new_page()
    agent = agent_page(page, settings)
    await flow.record(agent, url)
    server.page("/shop", v2)
    with pytest.raises(PlaywrightTimeoutError):
        await flow.buy(agent, url)
    await page.close()
    return settings.project_root / "flows" / "buy.py"


async def test_supervisor_heals_a_changed_page_offline(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = await record_then_break(context, server, settings, V2)
    async with await open_engine(settings, browser) as engine:
        result = await engine.run_supervisor()
        (outcome,) = result.outcomes
        assert outcome.successful, outcome
        new_selector = outcome.plan.params["new_selector"]
        assert outcome.plan.params["old_selector"] == "#buy-now"
        assert "nth-child" not in new_selector
        issue = await engine.get_issue(outcome.issue_id)
        assert issue.state is IssueState.resolved
        assert issue.probable_causes[0].startswith("DOM updated")
        # The new selector finds exactly the renamed button on the live page.
        page = await context.new_page()
        await page.goto(server.url("/shop"))
        assert await page.locator(new_selector).count() == 1
        assert await page.locator(new_selector).get_attribute("id") == "purchase-cta"
        await page.close()
        # A patch for the flow's source is left for a human to commit.
        (patch,) = (await engine.manual_patches(issue_id=issue.id)).patches
        assert patch.reason == "make_permanent" and patch.target_file == str(flow)
        subprocess.run(["git", "init", "-q"], cwd=settings.project_root, check=True)
        patch_file = settings.patches_dir / f"{patch.id}.patch"
        subprocess.run(["git", "apply", str(patch_file)], cwd=settings.project_root, check=True)
        patched = flow.read_text().splitlines()
        assert patched[-1] == f"    await page.locator({new_selector!r}).hover(timeout=500)"
        # Only the call that failed is rewritten; the same text on another line is left to its own failure.
        assert '    await page.locator("#buy-now").hover()' in patched
    assert server.writes() == [], "no fix attempt or retest submitted the form"


async def test_ambiguous_page_is_refused_not_guessed(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    flow = await record_then_break(context, server, settings, AMBIGUOUS)
    async with await open_engine(settings, browser) as engine:
        result = await engine.run_supervisor()
        assert result.outcomes == [] and result.resolved == []
        (issue_id,) = result.escalated
        (patch,) = (await engine.manual_patches(issue_id=issue_id)).patches
        assert patch.reason == "refused"
        assert "no element is clearly the one '#buy-now' meant" in patch.rationale
        # A human gets where the broken selector is written and what the page offers, with scores.
        line = flow.read_text().splitlines().index('    await page.locator("#buy-now").hover(timeout=500)') + 1
        assert patch.target_file == str(flow)
        assert f"It is written at flows/buy.py:{line}." in patch.rationale
        candidates = [row for row in patch.rationale.splitlines() if row[:3] in ("1. ", "2. ")]
        assert len(candidates) == 2
        assert all('button "Buy now"' in row and "(score 0." in row for row in candidates)


async def test_inline_healing_uses_memory_without_matching(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    await record_then_break(context, server, settings, V2)
    async with await open_engine(settings, browser) as engine:
        assert (await engine.run_supervisor()).resolved

    page = await context.new_page()
    healer = MemoryHealer(settings)
    agent = heal_page(page, settings=settings, healer=healer)
    await agent.goto(server.url("/shop"))
    await agent.locator("#buy-now").hover(timeout=500)
    assert (healer.memory_hits, healer.matcher_calls) == (1, 0)
    await healer.aclose()
    await page.close()

    async with await open_engine(settings, browser) as engine:
        entries = await engine.audit()
        inline = [e for e in entries if e.details.get("source") == "inline"]
        assert len(inline) == 1 and inline[0].successful
        issue = await engine.get_issue(inline[0].issue_id)
        assert issue.state is IssueState.resolved, "a heal from memory does not reopen the issue"
        (record,) = await engine.store.best_fixes(issue.signature)
        assert record.successes == 2


async def test_inline_healing_needs_permission_in_production(
    context: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, env=Environment.prod)
    server.page("/shop", V2)
    page = await context.new_page()
    healer = MemoryHealer(settings)
    agent = heal_page(page, settings=settings, healer=healer)
    await agent.goto(server.url("/shop"))
    with pytest.raises(PlaywrightTimeoutError):
        await agent.locator("text=Buy now!").hover(timeout=300)
    assert healer.matcher_calls == 0
    await healer.aclose()
    await page.close()
