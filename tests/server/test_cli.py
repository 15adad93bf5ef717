"""The terminal commands: ``--json`` outputs are the same pydantic models the MCP tools return, and
configuration errors are one line on stderr with exit status 2."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from healing_mcp import __version__
from healing_mcp.models import (
    AutoFixResult,
    HealthIssue,
    IssueState,
    PatchList,
    SupervisorRunResult,
    SystemHealthReport,
)
from tests.server.support import missing_file_event, server_env, write_events

CONSOLE_SCRIPT = Path(sys.executable).parent / "healing-mcp"


def cli(home: Path, *args: str, env: dict[str, str] | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healing_mcp", *args],
        env=env if env is not None else server_env(home, **extra),
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("healing-mcp: "), lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    return lines[0]


def test_report_supervise_patches_and_fix_as_json(home: Path, tmp_path: Path) -> None:
    healed_target = tmp_path / "project" / "healed.json"
    write_events(home, [missing_file_event(healed_target, 1), missing_file_event(healed_target, 2), "{broken"])

    report_run = cli(home, "report", "--json")
    assert report_run.returncode == 0, report_run.stderr
    report = SystemHealthReport.model_validate_json(report_run.stdout)
    assert report.issues_matching == 1
    assert report.issues[0].occurrences == 2
    assert report.intake.quarantined == 1

    dry = cli(home, "supervise", "--once", "--dry-run", "--json")
    planned = SupervisorRunResult.model_validate_json(dry.stdout)
    assert planned.dry_run
    assert planned.outcomes
    assert not healed_target.exists()

    run = cli(home, "supervise", "--once", "--json")
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.strip().splitlines()) == 1, "one JSON line per pass"
    result = SupervisorRunResult.model_validate_json(run.stdout)
    assert result.resolved == [report.issues[0].id]
    assert json.loads(healed_target.read_text(encoding="utf-8")) == {"debug": False}

    patches = cli(home, "patches", "--json")
    assert patches.returncode == 0, patches.stderr
    assert PatchList.model_validate_json(patches.stdout).patches == []

    # A second issue, escalated in prod, then fixed by id with approval.
    prod_target = tmp_path / "project" / "prod.json"
    write_events(home, [missing_file_event(prod_target)])
    escalated = SupervisorRunResult.model_validate_json(
        cli(home, "--env", "prod", "supervise", "--once", "--json").stdout
    )
    [issue_id] = escalated.escalated
    listed = PatchList.model_validate_json(cli(home, "--env", "prod", "patches", "--issue", issue_id, "--json").stdout)
    assert [patch.issue_id for patch in listed.patches] == [issue_id]

    refused = cli(home, "fix", issue_id, "--json", HEALING_ENV="prod")
    assert refused.returncode == 1, refused.stderr
    assert not AutoFixResult.model_validate_json(refused.stdout).healed
    assert not prod_target.exists()

    fixed = cli(home, "fix", issue_id, "--approve", "--json", HEALING_ENV="prod")
    assert fixed.returncode == 0, fixed.stderr
    healed = AutoFixResult.model_validate_json(fixed.stdout)
    assert healed.healed
    assert healed.issue.state is IssueState.resolved
    assert prod_target.exists()


def test_human_output_is_not_json(home: Path) -> None:
    done = cli(home, "report")
    assert done.returncode == 0, done.stderr
    assert "healthy" in done.stdout.lower()
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(done.stdout)


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="the healing-mcp console script is not installed")
def test_console_script(home: Path) -> None:
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "report", "--json"],
        env=server_env(home),
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert SystemHealthReport.model_validate_json(done.stdout).components[0].name == "files"


@pytest.mark.parametrize("command", [["report", "--json"], ["serve"], ["supervise", "--once"], ["patches"]])
def test_missing_config_file(home: Path, tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nowhere" / "healing.toml"
    line = one_error_line(cli(home, *command, HEALING_CONFIG=str(missing)))
    assert str(missing) in line
    assert "does not exist" in line


@pytest.mark.parametrize("command", [["report", "--json"], ["serve"]])
def test_broken_toml(home: Path, tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[supervisor\nmax_fixes_per_run = 3\n", encoding="utf-8")
    line = one_error_line(cli(home, *command, HEALING_CONFIG=str(config)))
    assert str(config) in line


def test_broken_toml_in_the_working_directory(home: Path) -> None:
    (home.parent / "healing.toml").write_text("log_level = \n", encoding="utf-8")
    line = one_error_line(cli(home, "report", "--json"))
    assert "healing.toml" in line


def test_invalid_setting_in_toml(home: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad-value.toml"
    config.write_text('tool_names = "camel"\n[supervisor]\nmax_fixes_per_run = -1\n', encoding="utf-8")
    line = one_error_line(cli(home, "report", "--json", HEALING_CONFIG=str(config)))
    assert "tool_names" in line or "max_fixes_per_run" in line


def test_invalid_setting_in_environment(home: Path) -> None:
    line = one_error_line(cli(home, "serve", HEALING_TOOL_NAMES="camel"))
    assert "tool_names" in line


def test_config_file_is_used(home: Path, tmp_path: Path) -> None:
    """A valid file is read, and the environment beats it."""
    config = tmp_path / "valid.toml"
    config.write_text('env = "staging"\n[supervisor]\nmax_fixes_per_run = 0\n', encoding="utf-8")
    write_events(home, [missing_file_event(tmp_path / "project" / "budget.json")])

    done = cli(home, "supervise", "--once", "--json", HEALING_CONFIG=str(config))
    run = SupervisorRunResult.model_validate_json(done.stdout)
    assert run.outcomes == []
    assert list(run.skipped.values()) == ["the fix budget of this pass is used up; it is next in line"]

    report = SystemHealthReport.model_validate_json(cli(home, "report", "--json", HEALING_CONFIG=str(config)).stdout)
    assert report.environment.value == "staging"
    overridden = cli(home, "report", "--json", HEALING_CONFIG=str(config), HEALING_ENV="prod")
    assert SystemHealthReport.model_validate_json(overridden.stdout).environment.value == "prod"


def test_fix_unknown_issue(home: Path) -> None:
    line = one_error_line(cli(home, "fix", "iss_nope", "--json"))
    assert "no issue with id 'iss_nope'" in line


def test_unknown_component_filter(home: Path) -> None:
    line = one_error_line(cli(home, "supervise", "--once", "--component", "nosuch"))
    assert "unknown component 'nosuch'" in line


def test_unusable_state_directory(home: Path, tmp_path: Path) -> None:
    not_a_directory = tmp_path / "state-file"
    not_a_directory.write_text("oops", encoding="utf-8")
    line = one_error_line(cli(home, "report", "--json", HEALING_HOME=str(not_a_directory)))
    assert "cannot open the healing store" in line
    assert str(not_a_directory) in line


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_serve_on_a_busy_port(home: Path, transport: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        line = one_error_line(cli(home, "serve", "--transport", transport, "--port", str(port)))
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_version(home: Path) -> None:
    done = cli(home, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"healing-mcp {__version__}"


def test_a_poison_line_does_not_stop_later_reports(home: Path, tmp_path: Path) -> None:
    write_events(home, ['{"component":"browser","kind":"timeout","severity":[1]}'])
    for _ in range(2):
        done = cli(home, "report", "--json")
        assert done.returncode == 0, done.stderr
        assert SystemHealthReport.model_validate_json(done.stdout).intake.quarantined == 1
    write_events(home, [missing_file_event(tmp_path / "project" / "after.json")])
    report = SystemHealthReport.model_validate_json(cli(home, "report", "--json").stdout)
    assert report.issues_matching == 1, "events after the poison line are read"


def test_output_cut_short_by_its_reader_ends_quietly(home: Path, tmp_path: Path) -> None:
    """``report --json | head -1``: far more JSON than a pipe holds, and the reader leaves after a line."""
    write_events(home, [missing_file_event(tmp_path / "project" / f"f{i}.json", i) for i in range(150)])
    assert cli(home, "report").returncode == 0  # ingest first, so the piped run only prints
    process = subprocess.Popen(
        [sys.executable, "-m", "healing_mcp", "report", "--json", "--limit", "150"],
        env=server_env(home),
        cwd=home.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().strip() == b"{"
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, stderr
    assert stderr == "", "no BrokenPipeError traceback"


def test_report_can_fail_on_a_state(home: Path, tmp_path: Path) -> None:
    assert cli(home, "report", "--fail-on", "degraded").returncode == 0, "healthy"
    write_events(home, [missing_file_event(tmp_path / "project" / "gone.json")])
    assert cli(home, "report", "--json").returncode == 0, "still 0 by default"
    assert cli(home, "report", "--fail-on", "degraded").returncode == 1
    assert cli(home, "report", "--fail-on", "broken").returncode == 0


def test_resolve_from_the_terminal(home: Path, tmp_path: Path) -> None:
    write_events(home, [missing_file_event(tmp_path / "project" / "manual.json")])
    [issue] = SystemHealthReport.model_validate_json(cli(home, "report", "--json").stdout).issues
    done = cli(home, "resolve", issue.id, "--note", "restored by hand", "--json")
    assert done.returncode == 0, done.stderr
    resolved = HealthIssue.model_validate_json(done.stdout)
    assert resolved.state is IssueState.resolved and "restored by hand" in resolved.auto_fix.notes[-1]
    assert "no issue with id 'iss_nope'" in one_error_line(cli(home, "resolve", "iss_nope"))


def test_unknown_component_in_a_report_is_an_error(home: Path) -> None:
    line = one_error_line(cli(home, "report", "--component", "nosuch"))
    assert "unknown component 'nosuch'" in line and "Installed components: " in line and "files" in line


def test_the_supervise_loop_stops_cleanly_on_ctrl_c(home: Path, tmp_path: Path) -> None:
    write_events(home, [missing_file_event(tmp_path / "project" / "loop.json")])
    process = subprocess.Popen(
        [sys.executable, "-m", "healing_mcp", "supervise", "--interval", "0.2", "--json"],
        env=server_env(home),
        cwd=home.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = SupervisorRunResult.model_validate_json(process.stdout.readline())
    assert len(first.resolved) == 1
    SupervisorRunResult.model_validate_json(process.stdout.readline())  # it loops
    process.send_signal(signal.SIGINT)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 130, stderr
    assert "Traceback" not in stderr
