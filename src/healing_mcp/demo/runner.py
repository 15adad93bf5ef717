"""``healing-mcp demo``: the whole healing loop on a browser agent, in about twenty seconds.

1. A demo site (version 1) and a browser agent (``shop_agent.py``, copied into a project folder).
2. Run 1 passes; the agent's wrapper records a fingerprint of every element it used.
3. The site ships version 2. Run 2 fails on its first broken selector.
4. A supervisor pass: detect -> diagnose ("DOM updated") -> repair (re-find the element, build a
   resilient selector) -> retest (replay the step in safe mode) -> remember, plus a patch for the source.
5. Run 3 uses inline healing: the repaired selector comes from memory; the selectors it meets for the
   first time are healed by similarity on the spot, each checked against what the original did (the page
   a click led to, the state a checkbox took). A second pass verifies those heals.
6. Run 4 is healed entirely from memory, with no matching at all.

Everything lives in ``<home>/demo`` (a fresh embedded store each time); the report and patches stay
there afterwards. Output is not wrapped when it goes to a pipe or a file, so logs keep whole lines.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape as e

from healing_mcp.components.browser.component import BrowserComponent
from healing_mcp.components.browser.fingerprint_store import FingerprintStore
from healing_mcp.components.browser.healer import MemoryHealer, heal_page
from healing_mcp.components.browser.launcher import (
    BrowserChoice,
    BrowserNotFound,
    BrowserUnavailable,
    find_chromium,
    launch_browser,
)
from healing_mcp.components.browser.wrapper import instrument
from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings, load_settings
from healing_mcp.core.engine import Engine
from healing_mcp.demo.site import DemoSite
from healing_mcp.events import EventReporter
from healing_mcp.models import Environment, FixPlan, SupervisorRunResult

if TYPE_CHECKING:
    from playwright.async_api import Browser
    from rich.console import Console

STEPS = 5  # element actions in shop_agent.run


@dataclass
class FlowRun:
    passed: bool
    error: str = ""


def verdict(run: FlowRun) -> str:
    return "[green]passed[/]" if run.passed else f"[red]failed[/] ({e(run.error)})"


def demo_settings(base: Settings) -> Settings:
    """A hermetic copy: its own home, the embedded store, dev, no LLM, whatever the user's environment."""
    home = base.home.resolve() / "demo"
    return load_settings(
        home / "healing.toml",
        home=home,
        project_root=home / "project",
        env=Environment.dev,
        allow_prod_healing=False,
        database_url=None,
        supabase_url=None,
        llm="off",
        plugins=[],
    )


def get_chromium(console: Console, install: bool) -> BrowserChoice:
    """An existing Chrome/Chromium, else (with ``install``) Playwright's own download, else the system
    package. Raises BrowserNotFound with instructions when none can be had."""
    try:
        return find_chromium()
    except BrowserNotFound:
        if not install:
            raise
    console.print("No Chromium found: trying Playwright's own browser download...")
    subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=False, timeout=600)
    try:
        return find_chromium()
    except BrowserNotFound:
        pass
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        console.print("Playwright's download failed: installing the system package (apt-get install chromium)...")
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, timeout=900)
    return find_chromium()


def repair_words(plan: FixPlan) -> str:
    """What a repair does, in a sentence (a plan from memory carries only its parameters)."""
    if plan.source != "memory":
        return plan.description
    params = plan.params
    return (
        f"replace {params.get('old_selector')!r} with {params.get('new_selector')!r} on {params.get('page')}, "
        "the fix that worked for this signature before"
    )


def load_flow(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("shop_agent", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Demo:
    def __init__(self, settings: Settings, console: Console) -> None:
        self.settings = settings
        self.console = console
        self.site = DemoSite()
        self.flow_path = settings.project_root / "shop_agent.py"

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    async def run_flow(self, browser: Browser, *, heal: MemoryHealer | None) -> FlowRun:
        context = await browser.new_context()
        page = await context.new_page()
        page.set_default_timeout(1_000)  # an agent that waits 30 s per missing element makes a slow demo
        events = EventReporter(self.settings.resolved_events_dir, stream="shop-agent")
        fingerprints = FingerprintStore(self.settings.home / "browser" / "fingerprints.db")
        if heal is None:
            agent: Any = instrument(page, reporter=events, store=fingerprints)
        else:
            agent = heal_page(page, settings=self.settings, healer=heal, reporter=events)
        try:
            await load_flow(self.flow_path).run(agent, self.site.base_url)
            return FlowRun(passed=True)
        except Exception as exc:
            return FlowRun(passed=False, error=str(exc).strip().splitlines()[0])
        finally:
            fingerprints.close()
            await context.close()

    async def supervise(self, engine: Engine) -> SupervisorRunResult:
        writes_before = self.site.writes()
        result = await engine.run_supervisor()
        for outcome in result.outcomes:
            issue = await engine.get_issue(outcome.issue_id)
            self.say(f"      [bold]detect[/]    {e(issue.id)}: {e(issue.title)} ({issue.occurrences} occurrence(s))")
            self.say(f"      [bold]diagnose[/]  {e(issue.probable_causes[0] if issue.probable_causes else '-')}")
            source = "from memory" if outcome.plan.source == "memory" else "new fix"
            self.say(f"      [bold]repair[/]    {outcome.plan.strategy} ({source}): {e(repair_words(outcome.plan))}")
            retest = outcome.retest
            verdict = "[green]passed[/]" if retest and retest.passed else "[red]failed[/]"
            notes = "; ".join(retest.notes) if retest and retest.notes else outcome.decision_reason
            if retest and retest.passed and not retest.notes:
                step = issue.step
                notes = f"replayed {step.action if step else 'the step'} with the new selector"
            self.say(f"      [bold]retest[/]    {verdict} in safe mode - {e(notes)}")
            (record,) = [
                m for m in await engine.store.best_fixes(issue.signature) if m.fix_signature == outcome.fix_signature
            ]
            self.say(
                f"      [bold]memory[/]    {record.successes} success(es), {record.failures} failure(s) for this "
                "signature and fix"
            )
        for issue_id, why in result.skipped.items():
            self.say(f"      skipped {issue_id}: {e(why)}")
        for issue_id in result.escalated:
            self.say(f"      [yellow]escalated[/] {issue_id}: a human is needed (see healing-mcp patches)")
        self.say(f"      the site received {self.site.writes() - writes_before} write(s) during repair and retest")
        return result

    async def run(self, choice: BrowserChoice) -> int:
        from playwright.async_api import async_playwright

        started = time.perf_counter()
        self.settings.project_root.mkdir(parents=True, exist_ok=True)
        template = resources.files("healing_mcp.demo").joinpath("shop_agent.py").read_text(encoding="utf-8")
        self.flow_path.write_text(template, encoding="utf-8")
        self.site.start()
        component = BrowserComponent()
        component.configure(self.settings, {})
        registry = Registry()
        registry.register(component)
        try:
            async with async_playwright() as playwright:
                try:
                    browser = await launch_browser(playwright, choice=choice)
                except BrowserUnavailable as exc:
                    self.console.print(f"[red]{e(str(exc))}[/]")
                    return 2
                component.use_browser(browser)
                async with await Engine.open(self.settings, registry) as engine:
                    code = await self._story(browser, engine, choice)
                await browser.close()
        finally:
            self.site.stop()
        self.say(f"\nDone in {time.perf_counter() - started:.1f} s.")
        return code

    async def _story(self, browser: Browser, engine: Engine, choice: BrowserChoice) -> int:
        say = self.say
        say(f"[bold]1.[/] Demo site on {self.site.base_url}; Chromium: {e(choice.executable_path)} ({choice.source})")
        say(f"   The agent under test: {e(str(self.flow_path))}")

        first = await self.run_flow(browser, heal=None)
        say(
            f"[bold]2.[/] Run 1 on version 1: {verdict(first)}"
            f" ({STEPS} steps; fingerprints of the elements it used were recorded)"
        )
        if not first.passed:
            return 1

        self.site.version = 2
        say(
            "[bold]3.[/] Version 2 ships: ids and classes renamed, wrappers inserted, a label reworded, "
            "elements reordered, look-alikes added."
        )
        second = await self.run_flow(browser, heal=None)
        say(f"   Run 2: {'[green]passed[/]' if second.passed else '[red]failed[/]'} - {e(second.error or 'no error')}")

        say("[bold]4.[/] Supervisor pass:")
        await self.supervise(engine)

        healer = MemoryHealer(self.settings)
        third = await self.run_flow(browser, heal=healer)
        say(
            f"[bold]5.[/] Run 3 with inline healing: {verdict(third)}"
            f" - {healer.healed_from_memory} selector(s) healed from memory, {healer.healed_by_similarity} by"
            f" similarity ({healer.matcher_calls} matcher call(s)), each checked against what the original did"
        )
        await healer.aclose()
        say("   Supervisor pass (verifies the inline heals and writes their patches):")
        await self.supervise(engine)

        healer = MemoryHealer(self.settings)
        fourth = await self.run_flow(browser, heal=healer)
        say(
            f"[bold]6.[/] Run 4: {verdict(fourth)}"
            f" - {healer.healed_from_memory} selector(s) healed from memory, {healer.matcher_calls} matcher call(s)"
        )
        await healer.aclose()

        report = await engine.report(refresh=True)
        report_path = self.settings.home / "report.json"
        report_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
        patches = sorted(self.settings.patches_dir.glob("*.patch"))
        states = ", ".join(f"{count} {state}" for state, count in report.counts.by_state.items()) or "no issues"
        say(f"\nReport: {e(str(report_path))} (overall: {report.overall.value}; {states})")
        say(
            f"Patches for {self.flow_path.name} ({len(patches)}): apply with "
            f"'git apply' from {e(str(self.settings.project_root))}"
        )
        for path in patches:
            say(f"  {e(str(path))}")
        healed = fourth.passed and healer.matcher_calls == 0 and healer.healed_from_memory >= 1
        return 0 if healed and report.overall.value == "healthy" else 1


async def run_demo(base: Settings, *, install_browser: bool = False) -> int:
    from rich.console import Console

    # Wrapping at the terminal's width helps people; a pipe or a log file wants whole lines.
    console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    settings = demo_settings(base)
    shutil.rmtree(settings.home, ignore_errors=True)
    try:
        choice = get_chromium(console, install_browser)
    except BrowserNotFound as exc:
        console.print(f"[red]{exc}[/]")
        console.print("Or run the demo with --install-browser to let it fetch one.")
        return 2
    return await Demo(settings, console).run(choice)
