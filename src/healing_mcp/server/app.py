"""The MCP tool layer: four tools and a few resources over :class:`~healing_mcp.core.engine.Engine`.

Each tool is a thin function: typed arguments in (their pydantic schema is the published input
schema), a pydantic model out (the published output schema). Expected failures (bad arguments,
unknown ids, unavailable components, store problems) come back as ``isError`` results whose text says
what to change; unexpected ones are logged to stderr and reported as internal errors without detail.

The engine (store + components) is opened on first use, not at start-up, so ``tools/list`` answers as
fast as the ``mcp`` package allows.
"""

from __future__ import annotations

import difflib
import inspect
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field, ValidationError

from healing_mcp import __version__
from healing_mcp.config import ConfigError, Settings
from healing_mcp.errors import HealingError, NotFound, StoreError
from healing_mcp.logs import get_logger
from healing_mcp.models import (
    AutoFixResult,
    FailureReport,
    IssueState,
    PatchList,
    Severity,
    SupervisorRunResult,
    SystemHealthReport,
)
from healing_mcp.redact import redact_text
from healing_mcp.server import open_engine, tool_schemas

if TYPE_CHECKING:
    from healing_mcp.core.engine import Engine  # imported on first use (open_engine), not at start-up

log = get_logger(__name__)
R = TypeVar("R")

INSTRUCTIONS = """\
healing-mcp watches browser agents, MCP tools, Supabase services and render pipelines, and repairs them.
- Start with healing_get_health_report to see what is broken (issues have ids like iss_...).
- healing_run_supervisor runs one full pass (detect, diagnose, fix, retest, remember); use dry_run first.
- Right after one of your own tool calls fails, call healing_auto_fix with a 'failure' description.
- What could not be fixed safely is in healing_suggest_manual_patches.
"""

TOOL_NAMES: dict[str, tuple[str, str]] = {
    # key: (underscore name, dotted name)
    "report": ("healing_get_health_report", "healing.get_health_report"),
    "supervise": ("healing_run_supervisor", "healing.run_supervisor"),
    "auto_fix": ("healing_auto_fix", "healing.auto_fix"),
    "patches": ("healing_suggest_manual_patches", "healing.suggest_manual_patches"),
}


def tool_name(key: str, style: Literal["underscore", "dotted"]) -> str:
    underscore, dotted = TOOL_NAMES[key]
    return dotted if style == "dotted" else underscore


class EngineHolder:
    """Opens the engine lazily (once, under a lock) and closes it when the server stops."""

    def __init__(self, settings: Settings, factory: Callable[[Settings], Awaitable[Engine]] = open_engine) -> None:
        self.settings = settings
        self._factory = factory
        self._engine: Engine | None = None
        self._lock = anyio.Lock()

    async def get(self) -> Engine:
        if self._engine is None:
            async with self._lock:
                if self._engine is None:
                    self._engine = await self._factory(self.settings)
        return self._engine

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.aclose()
            self._engine = None


# ---------------------------------------------------------------------------------- argument errors


def explain_arguments(tool: str, model: type[BaseModel], arguments: dict[str, Any]) -> str | None:
    """A readable error for bad arguments (or None when they are fine): what was wrong, what to send."""
    problems: list[str] = []
    fields = model.model_fields
    for key in arguments:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"- unknown argument {key!r}{hint}")
    try:
        model.model_validate(arguments)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "arguments"
            got = "" if err["type"] == "missing" else f" (got {json.dumps(err.get('input'), default=str)[:80]})"
            problems.append(f"- {where}: {err['msg']}{got}")
    if not problems:
        return None
    accepted = []
    for name, info in fields.items():
        schema_type = _type_hint(info.annotation)
        default = "" if info.is_required() else f", default {info.default!r}"
        accepted.append(f"  {name} ({schema_type}{default}): {info.description or ''}".rstrip(": "))
    return "\n".join([f"Invalid arguments for {tool}:", *problems, "Accepted arguments:", *accepted])


def _type_hint(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("healing_mcp.models.", "")


def _error_result(text: str, protocol_version: str) -> dict[str, Any]:
    """A ``tools/call`` error result in the wire shape of the connection's protocol revision."""
    result = CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    if protocol_version not in MODERN_PROTOCOL_VERSIONS:
        dumped.pop("resultType", None)  # handshake-era results have no resultType
    return dumped


@dataclass
class ArgumentCheck:
    """Server middleware: rejects unknown arguments before the tool runs, and rewrites pydantic's
    argument errors into :func:`explain_arguments` text.

    Unknown arguments must be refused up front: the SDK's argument model ignores extra keys, so a
    misspelt ``dryrun`` would otherwise be dropped and the fix applied for real.
    """

    models: dict[str, type[BaseModel]]

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params = ctx.params or {}
        name = params.get("name")
        model = self.models.get(name) if isinstance(name, str) else None
        arguments = params.get("arguments") or {}
        if model is not None and isinstance(arguments, dict) and any(k not in model.model_fields for k in arguments):
            text = explain_arguments(name, model, arguments)  # type: ignore[arg-type]
            if text is not None:
                log.info("tool call rejected: unknown arguments", tool=name, arguments=sorted(arguments))
                return _error_result(text, ctx.protocol_version)
        result = await call_next(ctx)
        if not isinstance(result, dict) or not result.get("isError"):
            return result
        if model is None or not isinstance(arguments, dict):
            return result
        text = explain_arguments(name, model, arguments)  # type: ignore[arg-type]
        if text is not None:
            result = {**result, "content": [{"type": "text", "text": text}]}
        return result


# ---------------------------------------------------------------------------------- the server


def _annotations(*, read_only: bool, destructive: bool, idempotent: bool, open_world: bool) -> ToolAnnotations:
    return ToolAnnotations(
        readOnlyHint=read_only, destructiveHint=destructive, idempotentHint=idempotent, openWorldHint=open_world
    )


async def _guarded(call: Callable[[], Awaitable[R]]) -> R:
    """Translate expected failures into isError text; keep the server alive on anything else."""
    try:
        return await call()
    except (HealingError, ConfigError, StoreError) as exc:
        raise ToolError(redact_text(str(exc))) from exc


async def _guarded_resource(holder: EngineHolder, read: Callable[[Engine], Awaitable[str]]) -> str:
    """The resource counterpart of :func:`_guarded`: expected failures become resource errors whose
    message reaches the client (an unknown issue id is reported as not found)."""
    try:
        return await read(await holder.get())
    except NotFound as exc:
        raise ResourceNotFoundError(redact_text(str(exc))) from exc
    except (HealingError, ConfigError, StoreError) as exc:
        raise ResourceError(redact_text(str(exc))) from exc


@contextmanager
def _without_rich_log_handler() -> Iterator[None]:
    """MCPServer installs a ``rich`` log handler on the root logger when rich is importable. Our logs are
    configured by :mod:`healing_mcp.logs` (stderr, redacted), so that handler is never used, and
    importing rich for it costs about 25 ms of every cold start. Make the import fail while the server
    is built, so the SDK falls back to a plain stderr handler (which our configuration replaces)."""
    blocked = [name for name in ("rich.console", "rich.logging") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules makes import raise
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def create_server(
    settings: Settings, holder: EngineHolder | None = None, *, use_shipped_schemas: bool = True
) -> MCPServer[Any]:
    """The MCP server. ``use_shipped_schemas=False`` derives every tool schema from the models instead
    of reading the shipped ones (see :mod:`healing_mcp.server.tool_schemas`)."""
    holder = holder or EngineHolder(settings)
    style = settings.tool_names
    argument_models: dict[str, type[BaseModel]] = {}

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield None
        finally:
            await holder.aclose()

    # Each tool is built once, from the shipped schemas when they are current, and handed to the server,
    # which keeps the same Tool the argument check reads.
    tools: list[Tool] = []
    shipped = tool_schemas.shipped_schemas() if use_shipped_schemas else None

    def register(
        key: str,
        fn: Callable[..., Awaitable[Any]],
        title: str,
        annotations: ToolAnnotations,
        output_model: type[BaseModel],
    ) -> None:
        name = tool_name(key, style)
        # cleandoc: the raw docstring would reach clients with its source indentation.
        description = inspect.cleandoc(fn.__doc__ or "")
        tool = tool_schemas.build_tool(
            key,
            fn,
            name=name,
            title=title,
            description=description,
            annotations=annotations,
            output_model=output_model,
            shipped=shipped,
        )
        tools.append(tool)
        argument_models[name] = tool.fn_metadata.arg_model

    # -- healing_get_health_report -----------------------------------------------------------------
    async def get_health_report(
        component: Annotated[str | None, Field(description="Only this component, e.g. 'browser'.")] = None,
        since_minutes: Annotated[
            float | None, Field(gt=0, description="Only issues seen in the last N minutes.")
        ] = None,
        states: Annotated[
            list[IssueState] | None,
            Field(description="Only issues in these states: open, fixing, resolved, persistent, escalated."),
        ] = None,
        min_severity: Annotated[
            Severity | None, Field(description="Only issues at least this severe: info, warning, error, critical.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="Issues per page (most urgent first).")] = 10,
        offset: Annotated[int, Field(ge=0, description="Skip this many issues (see next_offset).")] = 0,
        refresh: Annotated[bool, Field(description="Read new events from the event logs first.")] = True,
    ) -> SystemHealthReport:
        """Overall and per-component health with the matching issues (symptoms, probable causes,
        recommended fixes, auto-fix history). Read-only: it never fixes anything."""

        async def call() -> SystemHealthReport:
            engine = await holder.get()
            return await engine.report(
                component=component,
                since_minutes=since_minutes,
                states=states,
                min_severity=min_severity,
                limit=limit,
                offset=offset,
                refresh=refresh,
            )

        return await _guarded(call)

    register(
        "report",
        get_health_report,
        "Get health report",
        _annotations(read_only=True, destructive=False, idempotent=True, open_world=False),
        SystemHealthReport,
    )

    # -- healing_run_supervisor -------------------------------------------------------------------
    async def run_supervisor(
        ctx: Context,
        dry_run: Annotated[bool, Field(description="Diagnose and plan, but apply nothing.")] = False,
        component: Annotated[str | None, Field(description="Only heal this component.")] = None,
        max_fixes: Annotated[
            int | None, Field(ge=0, le=100, description="At most this many fix attempts (default from config).")
        ] = None,
    ) -> SupervisorRunResult:
        """Run one supervisor pass: read new events, group them into issues, diagnose, apply fixes the
        safety policy allows, retest, remember what worked, and escalate the rest as patches."""

        async def progress(done: float, total: float | None, message: str) -> None:
            await ctx.report_progress(done, total, message)

        async def call() -> SupervisorRunResult:
            engine = await holder.get()
            return await engine.run_supervisor(
                dry_run=dry_run, component=component, max_fixes=max_fixes, progress=progress
            )

        return await _guarded(call)

    register(
        "supervise",
        run_supervisor,
        "Run the healing supervisor",
        _annotations(read_only=False, destructive=True, idempotent=False, open_world=True),
        SupervisorRunResult,
    )

    # -- healing_auto_fix -------------------------------------------------------------------------
    async def auto_fix(
        issue_id: Annotated[
            str | None, Field(description="An issue id from healing_get_health_report, e.g. 'iss_3f2a...'.")
        ] = None,
        failure: Annotated[
            FailureReport | None,
            Field(description="Describe a failure that just happened instead of passing issue_id."),
        ] = None,
        approve: Annotated[
            bool, Field(description="A human approves fixes that need approval (never overrides a denial).")
        ] = False,
        dry_run: Annotated[bool, Field(description="Plan only; apply nothing.")] = False,
    ) -> AutoFixResult:
        """Repair one issue now: by id, or from a failure another tool just hit (component, symptom,
        message, target, context, replayable step). Returns what was tried, the retest, and patches."""

        async def call() -> AutoFixResult:
            engine = await holder.get()
            return await engine.auto_fix(issue_id=issue_id, failure=failure, approve=approve, dry_run=dry_run)

        return await _guarded(call)

    register(
        "auto_fix",
        auto_fix,
        "Auto-fix one issue",
        _annotations(read_only=False, destructive=True, idempotent=False, open_world=True),
        AutoFixResult,
    )

    # -- healing_suggest_manual_patches -----------------------------------------------------------
    async def suggest_manual_patches(
        issue_id: Annotated[str | None, Field(description="Only patches for this issue.")] = None,
        component: Annotated[str | None, Field(description="Only patches for this component.")] = None,
    ) -> PatchList:
        """Patch suggestions (target file, unified diff, rationale, risk) for issues that auto-fix could
        not, or was not allowed to, repair. Read-only: apply them yourself with 'git apply'."""

        async def call() -> PatchList:
            engine = await holder.get()
            return await engine.manual_patches(issue_id=issue_id, component=component)

        return await _guarded(call)

    register(
        "patches",
        suggest_manual_patches,
        "Suggest manual patches",
        _annotations(read_only=True, destructive=False, idempotent=True, open_world=False),
        PatchList,
    )

    with _without_rich_log_handler():
        server: MCPServer[Any] = MCPServer(
            "healing-mcp",
            title="healing-mcp",
            description="Self-healing for browser agents, MCP tools, Supabase services and render pipelines.",
            instructions=INSTRUCTIONS,
            version=__version__,
            lifespan=lifespan,
            log_level=settings.log_level.upper(),  # type: ignore[arg-type]
            warn_on_duplicate_tools=False,
            middleware=[ArgumentCheck(argument_models)],
            tools=tools,
        )

    # -- resources --------------------------------------------------------------------------------
    @server.resource("healing://report", name="report", title="System health report", mime_type="application/json")
    async def report_resource() -> str:
        async def read(engine: Engine) -> str:
            return (await engine.report(refresh=False)).model_dump_json(indent=2)

        return await _guarded_resource(holder, read)

    @server.resource("healing://memory", name="memory", title="Healing memory insights", mime_type="application/json")
    async def memory_resource() -> str:
        async def read(engine: Engine) -> str:
            return (await engine.memory()).model_dump_json(indent=2)

        return await _guarded_resource(holder, read)

    @server.resource("healing://audit", name="audit", title="Recent fix attempts", mime_type="application/json")
    async def audit_resource() -> str:
        async def read(engine: Engine) -> str:
            entries = await engine.audit(limit=100)
            return json.dumps([e.model_dump(mode="json") for e in entries], indent=2)

        return await _guarded_resource(holder, read)

    @server.resource(
        "healing://patches", name="patches", title="Manual patch suggestions", mime_type="application/json"
    )
    async def patches_resource() -> str:
        async def read(engine: Engine) -> str:
            return (await engine.manual_patches()).model_dump_json(indent=2)

        return await _guarded_resource(holder, read)

    @server.resource(
        "healing://issues/{issue_id}",
        name="issue",
        title="One issue with its audit trail",
        mime_type="application/json",
    )
    async def issue_resource(issue_id: str) -> str:
        async def read(engine: Engine) -> str:
            issue = await engine.get_issue(issue_id)
            audit = await engine.audit(issue_id=issue_id, limit=50)
            return json.dumps(
                {"issue": issue.model_dump(mode="json"), "audit": [e.model_dump(mode="json") for e in audit]},
                indent=2,
            )

        return await _guarded_resource(holder, read)

    return server
