"""The safety policy: may this fix run here, now, without a human?

The decision depends on what the fix can do (its declared :class:`~healing_mcp.models.FixRisk`), where
we are (``HEALING_ENV``), whether ``ALLOW_PROD_HEALING=1`` is set, how confident the fixer is, and
whether a human approved this attempt.

=====================  ==========  ================  ================  ===============================
risk                   dev         staging           prod              prod + ALLOW_PROD_HEALING=1
=====================  ==========  ================  ================  ===============================
read_only              allow       allow             allow             allow
reversible             allow       allow             needs approval    allow
data_changing          allow       needs approval    deny              needs approval
schema_changing        allow       deny              deny              needs approval
external_side_effect   approval    needs approval    deny              needs approval
=====================  ==========  ================  ================  ===============================

A plan is judged by the stricter of its own risk and its fixer's declared risk (a plan, or a remembered
fix, cannot be safer than the fixer that applies it); "stricter" is the stricter decision here.

In staging, ``ALLOW_PROD_HEALING=1`` lifts schema-changing fixes from *deny* to *needs approval*.
A fix whose confidence is below ``min_confidence`` needs approval even where its risk alone would be
allowed (except read-only fixes). Approval turns *needs approval* into *allow*; it never overrides
*deny*. Denied and unapproved fixes become patch suggestions for a human.
"""

from __future__ import annotations

from dataclasses import dataclass

from healing_mcp.models import Environment, FixRisk, PolicyDecision

A, N, D = PolicyDecision.allow, PolicyDecision.needs_approval, PolicyDecision.deny

_TABLE: dict[tuple[Environment, bool], dict[FixRisk, PolicyDecision]] = {
    (Environment.dev, False): {
        FixRisk.read_only: A,
        FixRisk.reversible: A,
        FixRisk.data_changing: A,
        FixRisk.schema_changing: A,
        FixRisk.external_side_effect: N,
    },
    (Environment.staging, False): {
        FixRisk.read_only: A,
        FixRisk.reversible: A,
        FixRisk.data_changing: N,
        FixRisk.schema_changing: D,
        FixRisk.external_side_effect: N,
    },
    (Environment.staging, True): {
        FixRisk.read_only: A,
        FixRisk.reversible: A,
        FixRisk.data_changing: N,
        FixRisk.schema_changing: N,
        FixRisk.external_side_effect: N,
    },
    (Environment.prod, False): {
        FixRisk.read_only: A,
        FixRisk.reversible: N,
        FixRisk.data_changing: D,
        FixRisk.schema_changing: D,
        FixRisk.external_side_effect: D,
    },
    (Environment.prod, True): {
        FixRisk.read_only: A,
        FixRisk.reversible: A,
        FixRisk.data_changing: N,
        FixRisk.schema_changing: N,
        FixRisk.external_side_effect: N,
    },
}
_TABLE[(Environment.dev, True)] = _TABLE[(Environment.dev, False)]
_STRICTNESS = {A: 0, N: 1, D: 2}


@dataclass(frozen=True)
class Verdict:
    decision: PolicyDecision
    reason: str


@dataclass(frozen=True)
class SafetyPolicy:
    environment: Environment
    allow_prod_healing: bool = False
    min_confidence: float = 0.6

    def stricter(self, *risks: FixRisk | str) -> FixRisk:
        """Of several declared risks, the one this environment is strictest about (deny, then needs
        approval, then allow; among equals the later, riskier kind). Raises ValueError for an unknown risk."""
        table = _TABLE[(self.environment, self.allow_prod_healing)]
        kinds = list(FixRisk)
        return max((FixRisk(risk) for risk in risks), key=lambda r: (_STRICTNESS[table[r]], kinds.index(r)))

    def decide(self, risk: FixRisk, *, confidence: float = 1.0, approved: bool = False) -> Verdict:
        base = _TABLE[(self.environment, self.allow_prod_healing)][risk]
        where = f"{self.environment.value}{' with ALLOW_PROD_HEALING=1' if self.allow_prod_healing else ''}"
        if base is D:
            hint = (
                " Set ALLOW_PROD_HEALING=1 to let a human approve it."
                if not self.allow_prod_healing and self.environment is not Environment.dev
                else ""
            )
            return Verdict(D, f"{risk.value} fixes are not allowed in {where}; offered as a patch instead.{hint}")
        if base is A and risk is not FixRisk.read_only and confidence < self.min_confidence:
            base = N
            reason = f"confidence {confidence:.2f} is below {self.min_confidence:.2f}, so a human must approve it"
        elif base is N:
            reason = f"{risk.value} fixes need approval in {where}"
        else:
            reason = f"{risk.value} fixes are allowed in {where}"
        if base is N and approved:
            return Verdict(A, reason + "; approved by the caller")
        return Verdict(base, reason)
