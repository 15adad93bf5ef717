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
