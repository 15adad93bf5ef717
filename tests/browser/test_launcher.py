"""Finding a Chromium: explicit path, environment, Playwright's download, system browsers, and the error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from healing_mcp.components.browser import launcher
from healing_mcp.components.browser.launcher import (
    BrowserNotFound,
    find_chromium,
    launch_args,
)


def _fake_browser(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A machine with no browser anywhere: empty Playwright cache, no system paths, nothing on PATH."""
    cache = tmp_path / "ms-playwright"
    monkeypatch.delenv(launcher.ENV_EXECUTABLE, raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(cache))
    monkeypatch.setattr(launcher, "SYSTEM_CANDIDATES", (str(tmp_path / "none" / "chromium"),))
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)
    return cache


def test_explicit_path_wins_over_everything(nothing_installed: Path, tmp_path: Path) -> None:
    explicit = _fake_browser(tmp_path / "bin" / "my-chrome")
    _fake_browser(nothing_installed / "chromium-1200" / "chrome-linux64" / "chrome")
    choice = find_chromium(explicit)
    assert choice.executable_path == explicit
    assert choice.source == "explicit"


def test_environment_variable_is_used(nothing_installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = _fake_browser(tmp_path / "env" / "chrome")
    monkeypatch.setenv(launcher.ENV_EXECUTABLE, from_env)
    choice = find_chromium()
    assert (choice.executable_path, choice.source) == (from_env, "env")


def test_missing_explicit_path_says_how_to_get_a_browser(nothing_installed: Path, tmp_path: Path) -> None:
    with pytest.raises(BrowserNotFound) as raised:
        find_chromium(str(tmp_path / "nope" / "chrome"))
    message = str(raised.value)
    assert "nope" in message
    assert "apt-get install -y chromium" in message


def test_no_browser_anywhere_raises_with_instructions(nothing_installed: Path) -> None:
    with pytest.raises(BrowserNotFound) as raised:
        find_chromium()
    message = str(raised.value)
    assert "apt-get install -y chromium" in message
    assert "playwright install chromium" in message
    assert "HEALING_CHROMIUM" in message


def test_playwright_download_is_preferred_over_system(
    nothing_installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = _fake_browser(tmp_path / "usr" / "bin" / "chromium")
    monkeypatch.setattr(launcher, "SYSTEM_CANDIDATES", (system,))
    assert find_chromium().source == "system"
    older = _fake_browser(nothing_installed / "chromium-1100" / "chrome-linux" / "chrome")
    newer = _fake_browser(nothing_installed / "chromium-1200" / "chrome-linux64" / "chrome")
    assert find_chromium() == launcher.BrowserChoice(newer, "playwright")
    # The exact build a running Playwright reports beats a cache scan.
    assert find_chromium(playwright_executable=older).executable_path == older
    # A reported path that is not on disk (no download happened) is skipped.
    assert find_chromium(playwright_executable=str(tmp_path / "missing")).executable_path == newer


def test_path_lookup_is_the_last_resort(nothing_installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher.shutil, "which", lambda name: "/opt/x/chrome" if name == "chrome" else None)
    assert find_chromium() == launcher.BrowserChoice("/opt/x/chrome", "system")


def test_sandbox_flag_only_for_root_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(launcher.ENV_NO_SANDBOX, raising=False)
    monkeypatch.setattr(launcher, "_running_as_root", lambda: False)
    args = launch_args()
    assert "--no-sandbox" not in args
    assert "--disable-component-update" in args
    assert "--no-sandbox" in launch_args(no_sandbox=True)
    monkeypatch.setenv(launcher.ENV_NO_SANDBOX, "1")
    assert "--no-sandbox" in launch_args()
    monkeypatch.delenv(launcher.ENV_NO_SANDBOX)
    monkeypatch.setattr(launcher, "_running_as_root", lambda: True)
    assert "--no-sandbox" in launch_args()


@pytest.mark.asyncio
async def test_a_browser_that_cannot_start_gets_one_clear_message(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    from healing_mcp.components.browser.launcher import BrowserChoice, BrowserLaunchFailed, launch_browser

    no_libs = tmp_path / "chrome"
    no_libs.write_text(
        "#!/bin/sh\necho 'chrome: error while loading shared libraries: libnss3.so: cannot open shared object file'"
        " >&2\nexit 127\n"
    )
    no_libs.chmod(0o755)
    async with async_playwright() as playwright:
        with pytest.raises(BrowserLaunchFailed) as missing:
            await launch_browser(playwright, choice=BrowserChoice(str(no_libs), "env"))
        with pytest.raises(BrowserLaunchFailed) as wrong:
            await launch_browser(playwright, choice=BrowserChoice("/bin/false", "env"))
    message = str(missing.value)
    assert "libnss3.so" in message and "playwright install --with-deps chromium" in message
    assert "apt-get install -y chromium" in message and "HEALING_CHROMIUM" in message
    assert "\n" not in message and "<launching>" not in message  # not Playwright's launch log
    assert "exited with code 1" in str(wrong.value)


def test_the_demo_explains_a_browser_that_cannot_start(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "healing_mcp", "--home", str(tmp_path / ".healing"), "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HEALING_CHROMIUM": "/bin/false"},
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert "could not start" in completed.stdout and "HEALING_CHROMIUM" in completed.stdout
    assert len(completed.stdout.strip().splitlines()) == 1


@pytest.mark.asyncio
async def test_a_component_whose_browser_cannot_start_says_so_in_one_line(tmp_path: Path) -> None:
    from healing_mcp.components.browser.component import BrowserComponent
    from healing_mcp.components.registry import Registry
    from healing_mcp.core.engine import Engine
    from healing_mcp.errors import ComponentFailure
    from healing_mcp.models import FailureReport, ReplayStep
    from tests.browser.test_component import make_settings

    settings = make_settings(tmp_path)
    component = BrowserComponent()
    component.configure(settings, {"executable_path": "/bin/false"})
    registry = Registry()
    registry.register(component)
    failure = FailureReport(
        component="browser",
        symptom="selector_not_found",
        target="#buy",
        step=ReplayStep(action="click", target="#buy", url="http://127.0.0.1:9/shop"),
    )
    async with await Engine.open(settings, registry) as engine:
        with pytest.raises(ComponentFailure, match="could not start: it exited with code 1") as raised:
            await engine.auto_fix(failure=failure)
        await component.aclose()
    assert "<launching>" not in str(raised.value) and "HEALING_CHROMIUM" in str(raised.value)
