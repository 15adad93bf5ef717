"""What fix attempts and retests may do, in real Chromium: only known origins, signed in when told to,
pages given time to render, risky words from the settings, and every blocked action on record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError

from healing_mcp.components.browser.component import BrowserComponent
from healing_mcp.models import FailureReport, ReplayStep
from tests.browser.conftest import RecordingServer
from tests.browser.test_component import agent_page, load_flow, make_settings, open_engine

pytestmark = pytest.mark.asyncio(loop_scope="module")

CLICK_FLOW = """async def run(page, url, selector, timeout=1000):
    await page.goto(url)
    await page.click(selector, timeout=timeout)
"""


async def break_a_click(context: Any, settings: Any, server: RecordingServer, v1: str, v2: str, selector: str) -> str:
    flow = load_flow(settings, "flow.py", CLICK_FLOW)
    url = server.page("/app", v1)
    await flow.run(agent_page(await context.new_page(), settings), url, selector)
    server.page("/app", v2)
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, selector, timeout=300)
    return url


async def test_an_ad_hoc_failure_cannot_send_the_browser_anywhere(browser: Any, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    failure = FailureReport(
        component="browser",
        symptom="selector_not_found",
        message="no such element",
        target="#reboot",
        step=ReplayStep(action="click", target="#reboot", url="http://169.254.169.254/latest/meta-data/"),
    )
    async with await open_engine(settings, browser) as engine:
        result = await engine.auto_fix(failure=failure)
        assert not result.healed
        (patch,) = result.patches
        assert "refused to open http://169.254.169.254/latest/meta-data/" in patch.rationale
        assert "allowed_origins" in patch.rationale


async def test_allowed_origins_are_the_agents_own_plus_the_configured_ones(
    context: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    await agent_page(await context.new_page(), settings).goto(server.page("/app", "<p>app</p>"))
    component = BrowserComponent()
    component.configure(settings, {"allowed_origins": ["https://Shop.example"]})
    assert component.allowed_origins() == {"https://shop.example", server.url("").rstrip("/")}
    with pytest.raises(ValueError, match="allowed_origins must be a list of http"):
        component.configure(settings, {"allowed_origins": "https://shop.example"})
    with pytest.raises(ValueError, match="risky_words must be a list of words"):
        component.configure(settings, {"risky_words": "buy"})


SIGNED_IN_V1 = '<h1>Account</h1><button id="export" type="button">Export data</button>'
SIGNED_IN_V2 = '<h1>Account</h1><div class="tools"><button id="export-v2" type="button">Export data</button></div>'


def _storage_state(path: Path, server: RecordingServer) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cookie = {"name": "session", "value": "ok", "domain": server.host, "path": "/", "expires": -1}
    path.write_text(json.dumps({"cookies": [{**cookie, "httpOnly": False, "secure": False, "sameSite": "Lax"}]}))
    return path


@pytest.mark.parametrize("how", ["configured", "recorded"])
async def test_pages_behind_a_login_are_healed_with_a_storage_state(
    browser: Any, server: RecordingServer, tmp_path: Path, how: str
) -> None:
    settings = make_settings(tmp_path)
    state = _storage_state(settings.project_root / "auth" / "user.json", server)
    context = await browser.new_context(storage_state=state)  # the agent is signed in
    flow = load_flow(settings, "flow.py", CLICK_FLOW)
    url = server.page("/account", SIGNED_IN_V1, cookie="session=ok")
    options = {"storage_state": state} if how == "recorded" else {}
    await flow.run(agent_page(await context.new_page(), settings, **options), url, "#export")
    server.page("/account", SIGNED_IN_V2, cookie="session=ok")
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings, **options), url, "#export", timeout=300)
    await context.close()
    config = {"storage_state": "auth/user.json"} if how == "configured" else {}
    async with await open_engine(settings, browser, config) as engine:
        result = await engine.run_supervisor()
    assert result.resolved, result.outcomes or result.escalated


async def test_without_a_storage_state_the_login_wall_is_not_healed_around(
    browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    state = _storage_state(tmp_path / "elsewhere" / "user.json", server)
    context = await browser.new_context(storage_state=state)
    flow = load_flow(settings, "flow.py", CLICK_FLOW)
    url = server.page("/account", SIGNED_IN_V1, cookie="session=ok")
    await flow.run(agent_page(await context.new_page(), settings), url, "#export")
    server.page("/account", SIGNED_IN_V2, cookie="session=ok")
    with pytest.raises(PlaywrightError):
        await flow.run(agent_page(await context.new_page(), settings), url, "#export", timeout=300)
    await context.close()
    async with await open_engine(settings, browser) as engine:
        result = await engine.run_supervisor()
    assert not result.resolved and result.escalated  # it saw the sign-in page, and refused


LATE_V2 = """<h1>Reports</h1><div id="root">loading</div><script>
fetch('/api/tools').then(r => r.json()).then(tools => {
  const buttons = tools.map(t => `<button type="button" class="tool">${t}</button>`);
  document.getElementById('root').innerHTML = buttons.join('');
});</script>"""


async def test_a_page_that_renders_after_load_is_captured_once_it_settled(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    server.page("/api/tools", '["Download CSV", "Print"]', delay=0.5)
    await break_a_click(
        context,
        settings,
        server,
        '<h1>Reports</h1><button id="csv" type="button">Download CSV</button>',
        LATE_V2,
        "#csv",
    )
    async with await open_engine(settings, browser) as engine:
        result = await engine.run_supervisor()
    assert result.resolved, [o.retest for o in result.outcomes] or result.escalated


BEACON_V2 = """<h1>Orders</h1><script>fetch('/api/track', {method: 'POST', body: 'view'}).catch(() => {});</script>
<div class="row"><button id="archive-order" type="button">Archive</button></div>"""


async def test_what_a_fix_attempt_blocked_is_on_record(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    server.page("/api/track", "ok")
    await break_a_click(
        context,
        settings,
        server,
        '<h1>Orders</h1><button id="archive" type="button">Archive</button>',
        BEACON_V2,
        "#archive",
    )
    writes_by_the_agent = server.writes()
    async with await open_engine(settings, browser) as engine:
        result = await engine.run_supervisor()
        (outcome,) = result.outcomes
        assert outcome.successful
        assert outcome.result is not None
        assert any("/api/track" in b for b in outcome.result.blocked), outcome.result
        assert any("safe mode blocked" in n for n in outcome.result.notes)
        finished = [e for e in await engine.audit() if e.phase == "finished"]
        assert any("/api/track" in b for b in finished[0].details["blocked"])
    assert server.writes() == writes_by_the_agent, "the fix attempt and the retest posted nothing"


async def test_risky_words_come_from_the_settings(
    context: Any, browser: Any, server: RecordingServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    v1 = '<h1>Orders</h1><button id="archive" type="button">Archive</button>'
    v2 = '<h1>Orders</h1><div class="row"><button id="archive-order" type="button">Archive</button></div>'
    await break_a_click(context, settings, server, v1, v2, "#archive")
    async with await open_engine(settings, browser, {"risky_words": ["archive"]}) as engine:
        result = await engine.run_supervisor()
    (outcome,) = result.outcomes
    assert not outcome.successful
    assert outcome.retest is not None
    assert any(n.startswith("not verified") and '"archive"' in n for n in outcome.retest.notes)
