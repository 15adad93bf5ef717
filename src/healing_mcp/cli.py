"""The ``healing-mcp`` command.

    healing-mcp serve                      MCP over stdio (what MCP clients launch)
    healing-mcp serve --transport streamable-http --port 8765
    healing-mcp supervise --once           one healing pass from the terminal (--dry-run to plan only)
    healing-mcp report                     health report as tables (--json for scripts)
    healing-mcp fix ISSUE_ID               heal one issue now (--approve, --dry-run)
    healing-mcp resolve ISSUE_ID           close an issue a human handled (--note TEXT)
    healing-mcp patches                    manual patch suggestions
    healing-mcp demo                       watch a browser agent get healed (local site, real Chromium)
    healing-mcp db migrate [--yes]         apply the Postgres/Supabase schema (db status: what is applied,
                                           exit status 1 while migrations are pending)

Modules are imported inside each command so ``serve`` loads only what the MCP server needs.
Errors a user can fix are printed as one line on stderr, with exit status 2. Output cut short by its
reader (``report --json | head -1``) ends quietly, with the status of a process killed by SIGPIPE (141).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from healing_mcp.config import Settings
    from healing_mcp.core.engine import Engine
    from healing_mcp.models import SupervisorRunResult, SystemHealthReport


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healing-mcp",
        description="Self-healing for browser agents, MCP tools, Supabase services and render pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"healing-mcp {_version()}")
    parser.add_argument("--config", type=Path, help="TOML config file (default: ./healing.toml if present)")
    parser.add_argument("--home", type=Path, help="state directory (default: .healing, or HEALING_HOME)")
    parser.add_argument("--env", choices=["dev", "staging", "prod"], help="environment (or HEALING_ENV)")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="stderr log level (default: info)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "sse", "streamable-http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (non-loopback needs a token)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--stateless", action="store_true", help="streamable HTTP without sessions (replicas)")
    serve.add_argument(
        "--tool-names", choices=["underscore", "dotted"], help="'dotted' exposes healing.get_health_report etc."
    )

    supervise = sub.add_parser("supervise", help="run the healing loop")
    supervise.add_argument("--once", action="store_true", help="one pass, then exit")
    supervise.add_argument("--dry-run", action="store_true", help="diagnose and plan; apply nothing")
    supervise.add_argument("--component", help="only this component")
    supervise.add_argument("--max-fixes", type=int, help="at most this many fix attempts per pass")
    supervise.add_argument("--interval", type=float, help="seconds between passes when looping")
    supervise.add_argument("--json", action="store_true", help="print results as JSON lines")

    report = sub.add_parser("report", help="show the health report")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument("--component", help="only this component")
    report.add_argument("--since-minutes", type=float, help="only issues seen in the last N minutes")
    report.add_argument("--limit", type=int, default=50)
    report.add_argument(
        "--fail-on",
        choices=["degraded", "broken"],
        help="exit with status 1 when the system is at least this unwell (default: always 0)",
    )

    fix = sub.add_parser("fix", help="heal one issue now")
    fix.add_argument("issue_id")
    fix.add_argument("--approve", action="store_true", help="approve fixes that need approval")
    fix.add_argument("--dry-run", action="store_true")
    fix.add_argument("--json", action="store_true")

    resolve = sub.add_parser("resolve", help="close an issue a human handled (a recurrence reopens it)")
    resolve.add_argument("issue_id")
    resolve.add_argument("--note", help="what was done, for the audit log")
    resolve.add_argument("--json", action="store_true")

    db = sub.add_parser("db", help="database schema of the Postgres/Supabase store")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_sub.add_parser("migrate", help="apply pending migrations (supabase/migrations)")
    migrate.add_argument("--yes", action="store_true", help="confirm migrating outside the dev environment")
    migrate.add_argument("--json", action="store_true")
    status = db_sub.add_parser("status", help="applied and pending migrations")
    status.add_argument("--json", action="store_true")

    demo = sub.add_parser("demo", help="watch the healing loop repair a browser agent (about 15 s)")
    demo.add_argument(
        "--install-browser", action="store_true", help="fetch a Chromium if none is installed (Playwright, or apt)"
    )

    patches = sub.add_parser("patches", help="list manual patch suggestions")
    patches.add_argument("--issue", dest="issue_id")
    patches.add_argument("--json", action="store_true")
    return parser


def _version() -> str:
    from healing_mcp import __version__

    return __version__


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    from healing_mcp.config import load_settings

    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if args.home is not None:
        overrides["home"] = args.home
    if args.env is not None:
        from healing_mcp.models import Environment

        overrides["env"] = Environment(args.env)
    if args.log_level is not None:
        overrides["log_level"] = args.log_level
    return load_settings(args.config, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if args.command is None:
        args = _parser().parse_args([*(argv or sys.argv[1:]), "serve"])
    from healing_mcp.config import ConfigError
    from healing_mcp.errors import HealingError, StoreError

    try:
        settings = _settings(args, tool_names=getattr(args, "tool_names", None))
        from healing_mcp.logs import configure_logging

        # The demo tells its own story on stdout; only warnings from the machinery underneath.
        level = "warning" if command == "demo" and args.log_level is None else settings.log_level
        configure_logging(level, settings.log_format)
        if command == "serve":
            return _serve(args, settings)
        import anyio

        runner = {
            "supervise": _supervise,
            "report": _report,
            "fix": _fix,
            "resolve": _resolve,
            "patches": _patches,
            "demo": _demo,
            "db": _db,
        }[command]
        status = int(anyio.run(runner, args, settings))
        sys.stdout.flush()  # here, not at exit: a reader that went away is handled below
        return status
    except (ConfigError, HealingError, StoreError) as exc:
        from healing_mcp.redact import redact_text

        print(f"healing-mcp: {redact_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """stdout's reader closed it (``| head``): stop quietly. Point stdout at /dev/null so the interpreter's
    final flush does not fail again with a traceback."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


# ---------------------------------------------------------------------------------- serve


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from healing_mcp.config import ConfigError
    from healing_mcp.server.app import create_server

    if args.stateless and args.transport != "streamable-http":
        raise ConfigError("--stateless only applies to --transport streamable-http")
    server = create_server(settings)
    if args.transport == "stdio":
        anyio.run(server.run_stdio_async)
    else:
        from healing_mcp.server.http import serve_http

        anyio.run(
            lambda: serve_http(
                server, settings, transport=args.transport, host=args.host, port=args.port, stateless=args.stateless
            )
        )
    return 0


# ---------------------------------------------------------------------------------- terminal commands


async def _open(settings: Settings) -> Engine:
    from healing_mcp.server import open_engine

    return await open_engine(settings)


async def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from healing_mcp.errors import InvalidRequest
    from healing_mcp.models import HealthState

    interval = args.interval or settings.supervisor.interval_seconds
    async with await _open(settings) as engine:
        if args.once:
            result = await _one_pass(engine, args)
            _show_run(result, args)
            return 0 if result.overall is not HealthState.broken else 1
        failures = 0
        while True:
            try:
                _show_run(await _one_pass(engine, args), args)
                failures = 0
            except (BrokenPipeError, InvalidRequest):
                raise  # nobody reads the output any more; or the request itself is wrong (--component)
            except Exception as exc:  # a loop that runs for months outlives one bad pass
                failures += 1
                delay = min(interval * 2 ** (failures - 1), max(interval, 3600.0))
                from healing_mcp.logs import get_logger

                get_logger(__name__).error(
                    "supervisor pass failed; trying again later",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_seconds=delay,
                    exc_info=exc,
                )
                await anyio.sleep(delay)
                continue
            await anyio.sleep(interval)


def _show_run(result: SupervisorRunResult, args: argparse.Namespace) -> None:
    if args.json:
        print(result.model_dump_json(), flush=True)
    else:
        _print_run(result)


async def _one_pass(engine: Engine, args: argparse.Namespace) -> SupervisorRunResult:
    if args.json or not sys.stderr.isatty():
        return await engine.run_supervisor(dry_run=args.dry_run, component=args.component, max_fixes=args.max_fixes)
    from rich.progress import Progress

    with Progress(transient=True, console=_console(stderr=True)) as bar:
        task = bar.add_task("supervisor pass", total=None)

        async def progress(done: float, total: float | None, message: str) -> None:
            bar.update(task, completed=done, total=total, description=message[:60])

        return await engine.run_supervisor(
            dry_run=args.dry_run, component=args.component, max_fixes=args.max_fixes, progress=progress
        )


async def _report(args: argparse.Namespace, settings: Settings) -> int:
    from healing_mcp.models import HealthState

    async with await _open(settings) as engine:
        report = await engine.report(component=args.component, since_minutes=args.since_minutes, limit=args.limit)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        _print_report(report)
    if args.fail_on is not None and report.overall.rank >= HealthState(args.fail_on).rank:
        return 1
    return 0


async def _resolve(args: argparse.Namespace, settings: Settings) -> int:
    async with await _open(settings) as engine:
        issue = await engine.resolve(args.issue_id, note=args.note)
    if args.json:
        print(issue.model_dump_json(indent=2))
    else:
        _console().print(f"{issue.id} ({issue.title}) is resolved; if it happens again it reopens.", markup=False)
    return 0


async def _fix(args: argparse.Namespace, settings: Settings) -> int:
    async with await _open(settings) as engine:
        result = await engine.auto_fix(issue_id=args.issue_id, approve=args.approve, dry_run=args.dry_run)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        console = _console()
        for outcome in result.outcomes:
            verdict = "healed" if outcome.successful else outcome.decision.value
            console.print(f"- {outcome.plan.strategy}: {verdict} ({outcome.decision_reason})")
        console.print(result.summary)
    return 0 if result.healed or args.dry_run else 1


async def _patches(args: argparse.Namespace, settings: Settings) -> int:
    async with await _open(settings) as engine:
        result = await engine.manual_patches(issue_id=args.issue_id)
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    console = _console()
    console.print(result.summary)
    for patch in result.patches:
        console.rule(f"{patch.id} - {patch.title}")
        console.print(f"reason: {patch.reason}   risk: {patch.risk.value}   file: {patch.target_file or '-'}")
        console.print(patch.rationale, markup=False)
        if patch.diff:
            console.print(patch.diff, markup=False, highlight=False)
    return 0


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    from healing_mcp.store.migrate import MigrationStatus, migrate, migration_status

    result = (
        await migrate(settings, confirm=args.yes) if args.db_command == "migrate" else await migration_status(settings)
    )
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(result.summary)  # plain: scripts read it, and a console would wrap it at 80 columns when piped
    # `db status` is a check a deploy script can gate on: 1 while migrations are pending
    return 1 if isinstance(result, MigrationStatus) and not result.up_to_date else 0


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from healing_mcp.demo.runner import run_demo

    return await run_demo(settings, install_browser=args.install_browser)


# ---------------------------------------------------------------------------------- rendering


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


_STATE_STYLE = {"healthy": "green", "degraded": "yellow", "broken": "red"}


def _print_report(report: SystemHealthReport) -> None:
    from rich.table import Table

    console = _console()
    style = _STATE_STYLE[report.overall.value]
    console.print(
        f"[bold {style}]{report.overall.value.upper()}[/] - {report.summary}  ({report.environment.value}, "
        f"{report.store})"
    )
    components = Table("component", "state", "recent issues", "why", title="Components", title_justify="left")
    for c in report.components:
        components.add_row(c.name, f"[{_STATE_STYLE[c.state.value]}]{c.state.value}[/]", str(c.open_issues), c.reason)
    console.print(components)
    if report.issues:
        issues = Table("id", "severity", "state", "seen", "title", "fix", title="Issues", title_justify="left")
        for issue in report.issues:
            fix = issue.auto_fix.strategy or ("tried" if issue.auto_fix.attempted else "-")
            issues.add_row(
                issue.id, issue.severity.value, issue.state.value, str(issue.occurrences), issue.title[:70], fix
            )
        console.print(issues)
        if report.next_offset is not None:
            console.print(f"... {report.issues_matching - report.issues_returned} more (use --limit)")
    if report.intake.quarantined:
        console.print(f"[yellow]{report.intake.quarantined} malformed event line(s) quarantined[/]; latest:")
        for line in report.intake.recent_quarantine[:3]:
            console.print(f"  {line.source}@{line.offset}: {line.reason}", markup=False)


def _print_run(result: SupervisorRunResult) -> None:
    console = _console()
    for outcome in result.outcomes:
        if outcome.dry_run:
            verdict = f"would apply ({outcome.decision.value})"
        elif outcome.result is None:
            verdict = f"not applied: {outcome.decision.value}"
        else:
            verdict = "[green]healed[/]" if outcome.successful else "[red]failed[/]"
        console.print(f"- {outcome.issue_id} {outcome.plan.strategy}: {verdict}")
    for issue_id, why in result.skipped.items():
        console.print(f"- {issue_id} skipped: {why}", markup=False)
    for error in result.errors:
        console.print(f"[red]! {error}[/]")
    console.print(result.summary)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
