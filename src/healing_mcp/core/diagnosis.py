"""Root cause: the component's rules first, then healing memory, then (optionally) Claude.

Rules are fast, deterministic and explain most failures. Memory adds what worked last time. The LLM is
asked only when no rule explains the issue and ``ANTHROPIC_API_KEY`` is set (``llm = "off"`` disables
it); it is called directly through the Anthropic API because MCP sampling is deprecated and unsupported
by the major clients. Everything sent to the model is redacted first, and its answer is advisory: it
adds causes and recommended fixes for humans, it never applies anything by itself.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from healing_mcp.components.base import Component, Diagnosis
from healing_mcp.core.ranking import is_proven
from healing_mcp.logs import get_logger
from healing_mcp.models import HealthIssue, MemoryRecord
from healing_mcp.redact import redact

if TYPE_CHECKING:
    from healing_mcp.config import Settings

log = get_logger(__name__)

_SYSTEM = (
    "You diagnose failures in an AI agent platform (browser automation, MCP tool servers, Postgres/Supabase "
    "services, media render pipelines). Answer with one JSON object only: "
    '{"causes": [short sentences, most likely first], "fixes": [short imperative sentences], '
    '"confidence": number between 0 and 1}. At most 3 causes and 3 fixes. Be concrete.'
)


def _merge(into: Diagnosis, found: Diagnosis, prefix: str = "") -> None:
    for cause in found.causes:
        text = prefix + cause
        if text not in into.causes:
            into.causes.append(text)
    for fix in found.fixes:
        text = prefix + fix
        if text not in into.fixes:
            into.fixes.append(text)
    into.confidence = max(into.confidence, found.confidence)


def issue_brief(issue: HealthIssue) -> dict[str, Any]:
    """What a diagnoser may see of an issue: no secrets, bounded size."""
    brief: dict[str, Any] = redact(
        {
            "component": issue.component,
            "kind": issue.kind,
            "target": issue.target,
            "title": issue.title,
            "occurrences": issue.occurrences,
            "symptoms": issue.symptoms[:3],
            "evidence": [{"message": e.message[:500], "attributes": e.attributes} for e in issue.evidence[-2:]],
            "fixes_tried": issue.auto_fix.notes[-3:],
        }
    )
    return brief


class LLMDiagnoser:
    """Asks Claude for causes and fixes. Imported lazily: the anthropic package is heavy."""

    def __init__(self, api_key: str, model: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        self.api_key = api_key
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMDiagnoser | None:
        if settings.llm == "off" or settings.anthropic_api_key is None:
            return None
        return cls(settings.anthropic_api_key.get_secret_value(), settings.llm_model, settings.anthropic_base_url)

    async def diagnose(self, issue: HealthIssue) -> Diagnosis | None:
        try:
            if self._client is None:
                from anthropic import AsyncAnthropic

                self._client = AsyncAnthropic(
                    api_key=self.api_key, base_url=self.base_url, timeout=self.timeout, max_retries=1
                )
            message = await self._client.messages.create(
                model=self.model,
                max_tokens=600,
                system=_SYSTEM,
                messages=[{"role": "user", "content": json.dumps(issue_brief(issue), default=str)}],
            )
            text = "".join(getattr(block, "text", "") for block in message.content)
            return parse_llm_answer(text)
        except Exception as exc:  # the LLM is advisory: any failure just means no extra diagnosis
            log.warning("llm diagnosis failed", issue=issue.id, error=f"{type(exc).__name__}: {exc}")
            return None


def parse_llm_answer(text: str) -> Diagnosis | None:
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    causes = [str(c) for c in data.get("causes", []) if str(c).strip()][:3]
    fixes = [str(f) for f in data.get("fixes", []) if str(f).strip()][:3]
    if not causes and not fixes:
        return None
    try:
        confidence = min(1.0, max(0.0, float(data.get("confidence", 0.3))))
    except (TypeError, ValueError):
        confidence = 0.3
    return Diagnosis(causes=[redact(c) for c in causes], fixes=[redact(f) for f in fixes], confidence=confidence)


def apply_rules(issue: HealthIssue, component: Component | None) -> tuple[Diagnosis, list[str]]:
    """The component's root-cause rules alone (fast, deterministic), with the errors of rules that crashed."""
    result = Diagnosis(confidence=0.0)
    errors: list[str] = []
    for rule in component.rules if component else []:
        try:
            found = rule(issue)
        except Exception as exc:
            name = getattr(rule, "__name__", type(rule).__name__)
            errors.append(f"root-cause rule {name} failed: {type(exc).__name__}: {exc}")
            continue
        if found is not None:
            _merge(result, found)
    return result, errors


async def diagnose(
    issue: HealthIssue,
    component: Component | None,
    memory: list[MemoryRecord],
    llm: LLMDiagnoser | None,
) -> tuple[Diagnosis, list[str]]:
    """Return the diagnosis and the errors of rules that crashed (isolated, reported)."""
    result, errors = apply_rules(issue, component)
    proven = [r for r in memory if is_proven(r)]
    if proven:
        best = proven[0]
        _merge(
            result,
            Diagnosis(
                causes=[f"Seen before: this failure was fixed {best.successes} time(s) by '{best.strategy}'."],
                fixes=[f"Re-apply the proven fix '{best.strategy}'."],
                confidence=max(best.score, 0.5),
            ),
        )
    if not result.causes and llm is not None:
        found_by_llm = await llm.diagnose(issue)
        if found_by_llm is not None:
            _merge(result, found_by_llm, prefix="(LLM) ")
    if not result.causes:
        result.causes.append("No rule explains this failure yet.")
        result.fixes.append("Inspect the evidence samples of this issue and add a root-cause rule.")
    return result, errors
