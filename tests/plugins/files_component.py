"""A small but real component used by the test suite: it heals missing configuration files.

Events: ``{"component": "files", "kind": "missing_file", "target": "<path>",
"attributes": {"default": {...}}}``. The ``create_default`` fixer writes the default JSON content
(reversible: it only creates a file that did not exist, and ``revert`` removes it again); the retester
checks the file now exists and parses. Extra fixers with other risk levels exercise the safety policy,
and knobs on the component let tests make fixes fail, crash, hang or answer nonsense on purpose.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from healing_mcp.components import (
    Component,
    ComponentContext,
    Diagnosis,
    FixPlan,
    FixResult,
    FixRisk,
    HealthIssue,
    NoSafeFix,
    RetestResult,
)
from healing_mcp.models import PatchSuggestion


def _default(issue: HealthIssue) -> Any:
    for sample in reversed(issue.evidence):
        if "default" in sample.attributes:
            return sample.attributes["default"]
    return None


def missing_file_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "missing_file":
        return None
    return Diagnosis(
        causes=[f"{issue.target} was deleted or never created"],
        fixes=["recreate the file from its default content"],
        confidence=0.8,
    )


class CreateDefault:
    name = "create_default"
    risk = FixRisk.reversible

    def __init__(self, owner: FilesComponent) -> None:
        self.owner = owner

    async def propose(self, issue: HealthIssue, ctx: ComponentContext) -> list[FixPlan]:
        self.owner.calls["propose"] += 1
        if issue.kind != "missing_file" or not issue.target:
            return []
        # The content: the template configured for this file name ([components.files] templates), else
        # the default the failing code reported.
        default = ctx.config.get("templates", {}).get(Path(issue.target).name, _default(issue))
        if default is None:
            raise NoSafeFix("no default content is known for this file")
        return [
            FixPlan(
                component="files",
                strategy=self.name,
                risk=self.risk,
                params={"path": issue.target, "content": default},
                description=f"write the default content to {issue.target}",
                confidence=0.9,
            )
        ]

    async def apply(self, issue: HealthIssue, plan: FixPlan, ctx: ComponentContext) -> FixResult:
        self.owner.calls["apply"] += 1
        if self.owner.on_apply is not None:
            await self.owner.on_apply(issue)
        if self.owner.mode == "crash":
            raise RuntimeError("disk on fire")
        if self.owner.mode == "exit":
            os._exit(17)  # simulates a supervisor killed mid-fix
        if self.owner.mode == "hang":
            await anyio.sleep_forever()
        if self.owner.mode == "none":
            return None  # type: ignore[return-value]  # a plugin bug the loop must survive
        path = Path(plan.params["path"])
        patch = self._permanent_patch(issue, path) if self.owner.permanent_patch else None
        if self.owner.mode == "broken":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{not json", encoding="utf-8")
            return FixResult(applied=True, changes=[f"wrote {path} (badly)"], patch=patch)
        if path.exists():
            return FixResult(applied=False, notes=[f"{path} already exists; not overwriting"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(plan.params["content"]), encoding="utf-8")
        return FixResult(applied=True, changes=[f"created {path}"], patch=patch)

    async def revert(self, issue: HealthIssue, plan: FixPlan, result: FixResult, ctx: ComponentContext) -> None:
        self.owner.calls["revert"] = self.owner.calls.get("revert", 0) + 1
        if self.owner.revert_fails:
            raise OSError("read-only file system")
        Path(plan.params["path"]).unlink(missing_ok=True)  # the fix only ever creates the file

    @staticmethod
    def _permanent_patch(issue: HealthIssue, path: Path) -> PatchSuggestion:
        return PatchSuggestion(
            id=f"pat_keep_{issue.id}",
            issue_id=issue.id,
            component="files",
            title=f"Keep {path.name} in the repository",
            target_file=str(path),
            diff=f"--- /dev/null\n+++ b/{path.name}\n@@ -0,0 +1 @@\n+{{}}\n",
            rationale="Commit this change so the file is never missing again.",
            risk=FixRisk.reversible,
            reason="make_permanent",
        )

    async def suggest_patch(
        self, issue: HealthIssue, plan: FixPlan | None, ctx: ComponentContext
    ) -> PatchSuggestion | None:
        if plan is None or not issue.target:
            return None
        content = json.dumps(plan.params["content"], indent=2)
        diff = f"--- /dev/null\n+++ b/{Path(issue.target).name}\n@@ -0,0 +1,{len(content.splitlines())} @@\n" + "".join(
            f"+{line}\n" for line in content.splitlines()
        )
        return PatchSuggestion(
            id=f"pat_files_{issue.id}",
            issue_id=issue.id,
            component="files",
            title=f"Create {issue.target}",
            target_file=issue.target,
            diff=diff,
            rationale="The file is missing; this creates it with its default content.",
            risk=plan.risk,
        )


class ResetSchema:
    """A schema-changing fix, offered only for 'bad_schema' issues: exercises the policy table."""

    name = "reset_schema"
    risk = FixRisk.schema_changing

    async def propose(self, issue: HealthIssue, ctx: ComponentContext) -> list[FixPlan]:
        if issue.kind != "bad_schema" or not issue.target:
            return []
        return [
            FixPlan(
                component="files",
                strategy=self.name,
                risk=self.risk,
                params={"path": issue.target},
                description="rewrite the schema file",
                confidence=0.9,
            )
        ]

    async def apply(self, issue: HealthIssue, plan: FixPlan, ctx: ComponentContext) -> FixResult:
        path = Path(plan.params["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"schema": 2}', encoding="utf-8")
        return FixResult(applied=True, changes=[f"rewrote {path}"])


class RewriteConfig:
    """Declares itself schema-changing but proposes plans that claim to be read-only: the policy must
    believe the fixer, not the plan."""

    name = "rewrite_config"
    risk = FixRisk.schema_changing

    async def propose(self, issue: HealthIssue, ctx: ComponentContext) -> list[FixPlan]:
        if issue.kind != "stale_config" or not issue.target:
            return []
        return [
            FixPlan(
                component="files",
                strategy=self.name,
                risk=FixRisk.read_only,
                params={"path": issue.target},
                description="rewrite the configuration",
                confidence=0.95,
            )
        ]

    async def apply(self, issue: HealthIssue, plan: FixPlan, ctx: ComponentContext) -> FixResult:
        path = Path(plan.params["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"rewritten": true}', encoding="utf-8")
        return FixResult(applied=True, changes=[f"rewrote {path}"])


class FileIsValidJson:
    async def retest(self, issue: HealthIssue, plan: FixPlan, result: FixResult, ctx: ComponentContext) -> RetestResult:
        path = Path(plan.params["path"])
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return RetestResult(passed=False, notes=[f"{path} is still unusable: {exc}"])
        return RetestResult(passed=True, notes=[f"{path} exists and parses"])


class FilesComponent(Component):
    def __init__(self) -> None:
        self.calls: dict[str, int] = {"propose": 0, "apply": 0}
        self.mode = os.environ.get("FILES_COMPONENT_MODE", "ok")
        self.on_apply: Callable[[HealthIssue], Awaitable[None]] | None = None  # tests hook in here
        self.permanent_patch = False  # apply also proposes a make_permanent patch
        self.revert_fails = False
        super().__init__(
            "files",
            description="configuration files (test component)",
            rules=[missing_file_rule],
            fixers=[CreateDefault(self), ResetSchema(), RewriteConfig()],
            retester=FileIsValidJson(),
        )


def component() -> FilesComponent:
    return FilesComponent()


def broken_plugin() -> Component:
    raise ImportError("this plugin needs a library that is not installed")


def risky_plugin() -> Component:
    files = FilesComponent()
    files.fixers[1].risk = "harmless"  # type: ignore[misc]  # not a FixRisk: loading must refuse it
    return files
