"""The safety policy: what may run where, and what needs a human."""

from __future__ import annotations

import pytest

from healing_mcp.core.policy import SafetyPolicy
from healing_mcp.models import Environment, FixRisk, PolicyDecision

A, N, D = PolicyDecision.allow, PolicyDecision.needs_approval, PolicyDecision.deny
EXPECTED = {
    # (env, allow_prod): [read_only, reversible, data_changing, schema_changing, external_side_effect]
    (Environment.dev, False): [A, A, A, A, N],
    (Environment.staging, False): [A, A, N, D, N],
    (Environment.staging, True): [A, A, N, N, N],
    (Environment.prod, False): [A, N, D, D, D],
    (Environment.prod, True): [A, A, N, N, N],
}


@pytest.mark.parametrize(("where", "decisions"), list(EXPECTED.items()))
def test_policy_table(where: tuple[Environment, bool], decisions: list[PolicyDecision]) -> None:
    policy = SafetyPolicy(*where)
    assert [policy.decide(risk).decision for risk in FixRisk] == decisions


def test_schema_changes_only_in_dev_unless_allowed() -> None:
    for env in (Environment.staging, Environment.prod):
        verdict = SafetyPolicy(env).decide(FixRisk.schema_changing, approved=True)
        assert verdict.decision is D, "approval never overrides a denial"
        assert "ALLOW_PROD_HEALING=1" in verdict.reason
    assert SafetyPolicy(Environment.dev).decide(FixRisk.schema_changing).decision is A


def test_approval_lifts_needs_approval_only() -> None:
    policy = SafetyPolicy(Environment.prod)
    assert policy.decide(FixRisk.reversible, approved=True).decision is A
    assert policy.decide(FixRisk.data_changing, approved=True).decision is D


def test_low_confidence_needs_a_human() -> None:
    policy = SafetyPolicy(Environment.dev, min_confidence=0.6)
    verdict = policy.decide(FixRisk.reversible, confidence=0.3)
    assert verdict.decision is N
    assert "confidence 0.30" in verdict.reason
    assert policy.decide(FixRisk.read_only, confidence=0.1).decision is A
