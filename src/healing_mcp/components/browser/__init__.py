"""Self-healing selectors for Playwright browser agents.

For agents (one line)::

    from healing_mcp.components.browser import heal_page
    page = heal_page(await browser.new_page())   # sensors + inline healing, memory first

or ``instrument(page)`` for sensors only (the supervisor heals offline from the recorded events), and
``expect(locator)`` for assertions that are reported and healed like actions.

Building blocks usable on their own: :func:`match_element` (pure ranking of candidate fingerprints),
:func:`build_selector`, :class:`SafeMode`, :func:`replay_step`, :func:`find_chromium`.

Names are imported on first use: loading the component for the supervisor must not import Playwright.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BrowserComponent": "component",
    "component": "component",
    "ElementFingerprint": "fingerprint",
    "FingerprintStore": "fingerprint_store",
    "instrument": "wrapper",
    "InstrumentedPage": "wrapper",
    "HealDecision": "wrapper",
    "expect": "wrapper",
    "heal_page": "healer",
    "MemoryHealer": "healer",
    "match_element": "matching",
    "MatchResult": "matching",
    "build_selector": "selectors",
    "selector_candidates": "selectors",
    "capture_candidates": "capture",
    "capture_fingerprint": "capture",
    "SafeMode": "safe_mode",
    "replay_step": "replay",
    "find_chromium": "launcher",
    "launch_browser": "launcher",
    "BrowserNotFound": "launcher",
    "BrowserLaunchFailed": "launcher",
    "BrowserUnavailable": "launcher",
}

if TYPE_CHECKING:
    from healing_mcp.components.browser.capture import capture_candidates, capture_fingerprint
    from healing_mcp.components.browser.component import BrowserComponent, component
    from healing_mcp.components.browser.fingerprint import ElementFingerprint
    from healing_mcp.components.browser.fingerprint_store import FingerprintStore
    from healing_mcp.components.browser.healer import MemoryHealer, heal_page
    from healing_mcp.components.browser.launcher import (
        BrowserLaunchFailed,
        BrowserNotFound,
        BrowserUnavailable,
        find_chromium,
        launch_browser,
    )
    from healing_mcp.components.browser.matching import MatchResult, match_element
    from healing_mcp.components.browser.replay import replay_step
    from healing_mcp.components.browser.safe_mode import SafeMode
    from healing_mcp.components.browser.selectors import build_selector, selector_candidates
    from healing_mcp.components.browser.wrapper import HealDecision, InstrumentedPage, expect, instrument


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'healing_mcp.components.browser' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "BrowserComponent",
    "BrowserLaunchFailed",
    "BrowserNotFound",
    "BrowserUnavailable",
    "ElementFingerprint",
    "FingerprintStore",
    "HealDecision",
    "InstrumentedPage",
    "MatchResult",
    "MemoryHealer",
    "SafeMode",
    "build_selector",
    "capture_candidates",
    "capture_fingerprint",
    "component",
    "expect",
    "find_chromium",
    "heal_page",
    "instrument",
    "launch_browser",
    "match_element",
    "replay_step",
    "selector_candidates",
]
