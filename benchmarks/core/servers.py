"""The two servers under test and how to start them.

- healing-mcp: ``python -m healing_mcp serve`` from the project's own interpreter, in a fresh
  temporary ``HEALING_HOME`` (or a prepared one), with no config file, remote store or API key visible.
- mcp-server-time (PyPI), the reference: installed once into its own virtual environment under
  ``benchmarks/.cache/`` and reused on later runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core.rpc import StdioServer

CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache"
REFERENCE_PACKAGE = "mcp-server-time"
REFERENCE_VENV = CACHE_DIR / REFERENCE_PACKAGE

# Settings that would change what healing-mcp serves (remote stores, config files, the LLM).
_HEALING_ENV_PREFIXES = ("HEALING_",)
_HEALING_ENV_NAMES = {
    "DATABASE_URL",
    "SUPABASE_URL",
    "SUPABASE_SERVICE_ROLE_KEY",
    "ANTHROPIC_API_KEY",
    "ALLOW_PROD_HEALING",
}


@dataclass(frozen=True)
class ServerSpec:
    """A command line plus environment that starts one MCP server over stdio."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path

    def start(self, stderr_path: Path | None = None) -> StdioServer:
        return StdioServer(self.argv, env=self.env, cwd=self.cwd, stderr_path=stderr_path)


def _clean_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_HEALING_ENV_PREFIXES) and key not in _HEALING_ENV_NAMES
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def healing_spec(home: Path) -> ServerSpec:
    """healing-mcp with its state in ``home`` (its parent is the working directory: no healing.toml)."""
    env = _clean_env()
    env["HEALING_HOME"] = str(home)
    return ServerSpec("healing-mcp", (sys.executable, "-m", "healing_mcp", "serve"), env, home.parent)


def reference_python() -> Path:
    return REFERENCE_VENV / "bin" / "python"


def ensure_reference(log: bool = True) -> Path:
    """Create the reference server's virtual environment on first use; reuse it afterwards."""
    python = reference_python()
    probe = [str(python), "-c", "import mcp_server_time"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    if log:
        print(f"installing {REFERENCE_PACKAGE} into {REFERENCE_VENV} (first run only) ...", file=sys.stderr)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(REFERENCE_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REFERENCE_PACKAGE],
        check=True,
    )
    subprocess.run(probe, check=True)
    return python


def reference_spec(workdir: Path) -> ServerSpec:
    return ServerSpec("mcp-server-time", (str(reference_python()), "-m", "mcp_server_time"), _clean_env(), workdir)


def package_version(python: Path, distribution: str) -> str:
    code = f"from importlib.metadata import version; print(version({distribution!r}))"
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "?"
