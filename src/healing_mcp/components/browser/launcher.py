"""Finding and launching a Chromium for the browser component.

Playwright normally runs the Chromium it downloads itself (``playwright install chromium``). That download
is not always possible (closed networks, CI images, distro packaging), while a system Chrome or Chromium is
often already installed and drives just as well. :func:`find_chromium` picks the first one available:

1. an explicit path, or the ``HEALING_CHROMIUM`` environment variable;
2. Playwright's own downloaded Chromium, when it is actually on disk;
3. a system Chrome / Chromium (well-known paths, then ``PATH``).

:func:`launch_browser` starts it with flags that keep Chromium from phoning home (component updates,
sync, background networking, QUIC), which matters on closed networks where those requests hang or spam
the logs. A browser that exists but cannot start (missing system libraries, a wrong binary) raises
:class:`BrowserLaunchFailed` with one line of Playwright's reason and what to do, instead of Playwright's
full launch log. Playwright is imported lazily, when a browser is launched.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

ENV_EXECUTABLE = "HEALING_CHROMIUM"
ENV_NO_SANDBOX = "HEALING_CHROMIUM_NO_SANDBOX"

# Flags that stop Chromium from reaching out to Google services on its own.
QUIET_FLAGS: tuple[str, ...] = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

SYSTEM_CANDIDATES: tuple[str, ...] = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/snap/bin/chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
PATH_NAMES: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

HOW_TO_GET_ONE = (
    "No Chromium or Chrome browser was found. Get one of: "
    "`apt-get install -y chromium` (Debian/Ubuntu system Chromium), "
    "`playwright install chromium` (Playwright's own build), "
    f"or set {ENV_EXECUTABLE}=/path/to/chrome to use a browser installed elsewhere."
)


class BrowserUnavailable(RuntimeError):
    """No browser to work with; the message says what to do."""


class BrowserNotFound(BrowserUnavailable):
    """No usable Chromium. The message says how to install one or point to one."""


class BrowserLaunchFailed(BrowserUnavailable):
    """A Chromium was found but did not start. The message says why, in one line, and what to do."""


def _launch_reason(error: Exception) -> str:
    """The telling line of a Playwright launch error, which appends the whole browser log."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    stderr = [re.sub(r"^(- )?\[pid=\d+\]\[err\] ", "", line) for line in lines if "][err] " in line]
    for line in stderr + lines:
        if "shared libraries" in line or "missing dependencies" in line.lower():
            return line.removeprefix("- ")[:300]
    if stderr:
        return stderr[-1][:300]
    exits = [found.group(1) for line in lines if (found := re.search(r"exitCode=(\d+)", line))]
    if exits:
        return f"it exited with code {exits[-1]} right after starting"
    return (lines[0] if lines else type(error).__name__).removeprefix("BrowserType.launch: ")[:300]


def _launch_failure(choice: BrowserChoice, error: Exception) -> BrowserLaunchFailed:
    reason = _launch_reason(error).rstrip(". ")
    libraries = "shared libraries" in reason or "dependencies" in reason
    what = (
        "It is missing system libraries: install them with `playwright install --with-deps chromium`, or "
        "install the distribution's browser with `apt-get install -y chromium`."
        if libraries
        else "Check that it is a Chrome or Chromium binary that runs on this machine "
        "(`playwright install --with-deps chromium` installs one with its system libraries)."
    )
    return BrowserLaunchFailed(
        f"Chromium at {choice.describe()} could not start: {reason}. {what} "
        f"Or set {ENV_EXECUTABLE}=/path/to/chrome to use another browser."
    )


@dataclass(frozen=True)
class BrowserChoice:
    """The browser executable to launch and where the choice came from."""

    executable_path: str
    source: Literal["explicit", "env", "playwright", "system"]

    def describe(self) -> str:
        return f"{self.executable_path} ({self.source})"


def _usable(path: str | os.PathLike[str]) -> bool:
    candidate = Path(path)
    return candidate.is_file() and os.access(candidate, os.X_OK)


def _playwright_cache_dirs() -> list[Path]:
    explicit = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if explicit and explicit != "0":
        return [Path(explicit)]
    home = Path.home()
    if sys.platform == "darwin":
        return [home / "Library" / "Caches" / "ms-playwright"]
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return [Path(local) / "ms-playwright"] if local else []
    xdg = os.environ.get("XDG_CACHE_HOME")
    return [Path(xdg) / "ms-playwright"] if xdg else [home / ".cache" / "ms-playwright"]


def _downloaded_playwright_chromium() -> str | None:
    """The newest Chromium that ``playwright install`` left in its cache, if any."""
    patterns = (
        "chromium-*/chrome-linux*/chrome",
        "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
        "chromium-*/chrome-mac*/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
        "chromium-*/chrome-win*/chrome.exe",
    )
    found: list[tuple[int, str]] = []
    for cache in _playwright_cache_dirs():
        for pattern in patterns:
            for match in glob.glob(str(cache / pattern)):
                revision = Path(match).relative_to(cache).parts[0].rsplit("-", 1)[-1]
                if _usable(match):
                    found.append((int(revision) if revision.isdigit() else -1, match))
    return max(found)[1] if found else None


def find_chromium(explicit: str | None = None, *, playwright_executable: str | None = None) -> BrowserChoice:
    """Pick the Chromium to launch.

    ``playwright_executable`` is the path a running Playwright reports for its own Chromium
    (``playwright.chromium.executable_path``); it is preferred over a cache scan because it is the exact
    build that Playwright version expects. Raises :class:`BrowserNotFound` when nothing usable exists.
    """
    if explicit:
        if not _usable(explicit):
            raise BrowserNotFound(
                f"the browser path {explicit!r} does not exist or is not executable. " + HOW_TO_GET_ONE
            )
        return BrowserChoice(explicit, "explicit")
    from_env = os.environ.get(ENV_EXECUTABLE)
    if from_env:
        if not _usable(from_env):
            raise BrowserNotFound(
                f"{ENV_EXECUTABLE}={from_env!r} does not exist or is not executable. " + HOW_TO_GET_ONE
            )
        return BrowserChoice(from_env, "env")
    if playwright_executable and _usable(playwright_executable):
        return BrowserChoice(playwright_executable, "playwright")
    downloaded = _downloaded_playwright_chromium()
    if downloaded:
        return BrowserChoice(downloaded, "playwright")
    for path in SYSTEM_CANDIDATES:
        if _usable(path):
            return BrowserChoice(path, "system")
    for name in PATH_NAMES:
        on_path = shutil.which(name)
        if on_path:
            return BrowserChoice(on_path, "system")
    raise BrowserNotFound(HOW_TO_GET_ONE)


def _running_as_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return bool(geteuid is not None and geteuid() == 0)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def launch_args(*, no_sandbox: bool | None = None) -> list[str]:
    """Chromium flags: the quiet set, plus ``--no-sandbox`` only where the sandbox cannot work.

    Chromium refuses to start its sandbox as root, so root (containers, CI) gets ``--no-sandbox``;
    everyone else keeps the sandbox unless they opt out (argument or ``HEALING_CHROMIUM_NO_SANDBOX=1``).
    """
    if no_sandbox is None:
        no_sandbox = _running_as_root() or _env_flag(ENV_NO_SANDBOX)
    return (["--no-sandbox"] if no_sandbox else []) + list(QUIET_FLAGS)


async def launch_browser(
    playwright: Playwright,
    *,
    headless: bool = True,
    choice: BrowserChoice | None = None,
    no_sandbox: bool | None = None,
    extra_args: tuple[str, ...] = (),
    **launch_options: Any,
) -> Browser:
    """Launch Chromium through ``playwright`` with the quiet flags.

    Without ``choice``, :func:`find_chromium` decides, preferring the Chromium this Playwright version
    downloaded when it is on disk. Raises :class:`BrowserLaunchFailed` when the browser does not start.
    """
    if choice is None:
        reported: str | None
        try:
            reported = playwright.chromium.executable_path
        except Exception:  # an unknown platform makes Playwright raise here; fall back to the scan
            reported = None
        choice = find_chromium(playwright_executable=reported)
    from playwright.async_api import Error as PlaywrightError

    args = launch_args(no_sandbox=no_sandbox) + list(extra_args)
    sandboxed = "--no-sandbox" not in args
    try:
        return await playwright.chromium.launch(
            executable_path=choice.executable_path,
            headless=headless,
            args=args,
            chromium_sandbox=sandboxed,
            **launch_options,
        )
    except PlaywrightError as error:
        raise _launch_failure(choice, error) from None
