"""Inline healing: heal a broken selector during the agent's own run, memory first.

:class:`MemoryHealer` is the healer :func:`heal_page` plugs into the instrumented page. When a selector
matches nothing it:

1. looks up healing memory for this broken selector on this page (the same issue signature the
   supervisor uses) and, if a replacement is proven and still matches exactly one element, uses it —
   no candidate capture, no matching;
2. otherwise asks the similarity matcher (which refuses rather than guesses).

The agent's action on the healed element is then a real retest: it counts as a success only when the
action succeeded *and* its post-condition held (the agent's ``expect=``, the URL the original action led
to, the value a fill typed; see :mod:`.wrapper`). Success or failure is recorded in healing memory and in
the audit log, exactly like a supervisor attempt, so the next occurrence is healed from memory. The safety
policy applies: in production inline healing needs ``ALLOW_PROD_HEALING=1``.

``memory_hits`` and ``matcher_calls`` count the lookups; ``healed_from_memory`` and
``healed_by_similarity`` count the heals that then worked.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import anyio

from healing_mcp.components.browser.component import MEMORY_METHOD, NAME, STRATEGY, issue_key, selector_plan
from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.fingerprint_store import FingerprintStore
from healing_mcp.components.browser.wrapper import HealDecision, Healer, InstrumentedPage, instrument, similarity_healer
from healing_mcp.config import Settings, load_settings
from healing_mcp.core.policy import SafetyPolicy
from healing_mcp.core.ranking import is_proven, success_estimate
from healing_mcp.core.signatures import compute_signature
from healing_mcp.core.supervisor import new_id
from healing_mcp.events import EventReporter
from healing_mcp.models import AuditEntry, FixRisk, PolicyDecision, utcnow
from healing_mcp.store import Store, create_store
from healing_mcp.store.base import OutcomeRecord

if TYPE_CHECKING:
    from playwright.async_api import Page


def failure_signature(selector: str, url: str) -> str:
    """The issue signature of "``selector`` matched nothing on the page at ``url``"."""
    return compute_signature(NAME, "selector_not_found", selector, issue_key(url))


class MemoryHealer:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        fallback: Healer | None = similarity_healer,
    ) -> None:
        self.settings = settings or load_settings()
        self.policy = SafetyPolicy(self.settings.environment, self.settings.allow_prod_healing)
        self.fallback = fallback
        self._store = store
        self._owns_store = store is None
        self._lock = anyio.Lock()
        self.memory_hits = 0
        self.matcher_calls = 0
        self.healed_from_memory = 0
        self.healed_by_similarity = 0
        self.run_id = new_id("inline")

    async def store(self) -> Store:
        async with self._lock:
            if self._store is None:
                self._store = create_store(self.settings)
                await self._store.open()
        return self._store

    async def __call__(
        self, page: Page, selector: str, stored: ElementFingerprint | None, action: str
    ) -> HealDecision | None:
        verdict = self.policy.decide(FixRisk.reversible)
        if verdict.decision is not PolicyDecision.allow:
            return None  # nothing acts in production without permission; the failure is still reported
        store = await self.store()
        for record in await store.best_fixes(failure_signature(selector, page.url)):
            if record.strategy != STRATEGY or not is_proven(record):
                continue
            new = str(record.params.get("new_selector", ""))
            if new and await page.locator(new).count() == 1:
                self.memory_hits += 1
                return HealDecision(
                    selector=new,
                    confidence=success_estimate(record),
                    method=MEMORY_METHOD,
                    notes=[f"proven replacement: {record.successes} success(es), {record.failures} failure(s)"],
                )
        if self.fallback is None:
            return None
        self.matcher_calls += 1
        return await self.fallback(page, selector, stored, action)

    async def confirm(self, old: str, decision: HealDecision, succeeded: bool, url: str) -> None:
        """Record the agent's healed action on the page at ``url`` as a finished fix attempt (audit and
        memory in one transaction). ``succeeded``: the action worked and its post-condition held."""
        if succeeded and decision.method == MEMORY_METHOD:
            self.healed_from_memory += 1
        elif succeeded:
            self.healed_by_similarity += 1
        store = await self.store()
        signature = failure_signature(old, url)
        plan = selector_plan(
            old, decision.selector, issue_key(url), decision.confidence, decision.method, FixRisk.reversible
        )
        attempt = new_id("att")
        entry = AuditEntry(
            run_id=self.run_id,
            attempt_id=attempt,
            phase="finished",
            issue_id="iss_" + signature.split(":", 1)[1][:12],
            issue_signature=signature,
            component=NAME,
            strategy=STRATEGY,
            fix_signature=plan.signature,
            risk=FixRisk.reversible,
            decision=PolicyDecision.allow,
            why=f"inline heal during the agent's run ({decision.method}); {'; '.join(decision.notes)}",
            result=f"acted on {decision.selector!r} instead of {old!r}",
            retest="the agent's own action "
            + ("succeeded and its post-condition held" if succeeded else "failed or its post-condition did not hold"),
            successful=succeeded,
            details={"params": plan.params, "confidence": decision.confidence, "source": "inline", "pid": os.getpid()},
        )
        outcome = OutcomeRecord(
            outcome_id=attempt,
            issue_signature=signature,
            fix_signature=plan.signature,
            component=NAME,
            strategy=STRATEGY,
            params=plan.params,
            risk=FixRisk.reversible,
            success=succeeded,
            suggestion=None if succeeded else f"{decision.selector!r} did not work for the agent's {old!r}",
            time=utcnow(),
        )
        await store.finish_attempt(entry, outcome)

    async def aclose(self) -> None:
        if self._owns_store and self._store is not None:
            await self._store.close()
            self._store = None


def heal_page(
    page: Page,
    *,
    settings: Settings | None = None,
    healer: MemoryHealer | None = None,
    reporter: EventReporter | None = None,
    **options: Any,
) -> InstrumentedPage:
    """Instrument ``page`` with sensors *and* inline healing (memory first, then similarity).

    ``page = heal_page(await browser.new_page())`` is the one line a browser agent adds.
    """
    settings = settings or load_settings()
    return instrument(
        page,
        reporter=reporter or EventReporter(settings.resolved_events_dir),
        store=FingerprintStore(settings.home / "browser" / "fingerprints.db"),
        healer=healer or MemoryHealer(settings),
        heal=True,
        **options,
    )
