"""Components: the parts of the user's system healing-mcp watches (built in: browser; more as plugins)
and the protocols a plugin implements. See :mod:`healing_mcp.components.base`."""

from healing_mcp.components.base import (
    Component,
    ComponentContext,
    DefaultSensor,
    Diagnosis,
    Fixer,
    NoSafeFix,
    PatchWriter,
    PollingSensor,
    Retester,
    Reverter,
    RootCauseRule,
    Sensor,
)
from healing_mcp.models import Event, FixPlan, FixResult, FixRisk, HealthIssue, Observation, RetestResult, Severity

__all__ = [
    "Component",
    "ComponentContext",
    "DefaultSensor",
    "Diagnosis",
    "Event",
    "FixPlan",
    "FixResult",
    "FixRisk",
    "Fixer",
    "HealthIssue",
    "NoSafeFix",
    "Observation",
    "PatchWriter",
    "PollingSensor",
    "RetestResult",
    "Retester",
    "Reverter",
    "RootCauseRule",
    "Sensor",
    "Severity",
]
