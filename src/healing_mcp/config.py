"""Configuration: explicit overrides, then environment variables, then ``healing.toml``, then defaults.

Every setting has an environment variable, ``HEALING_<NAME>`` (nested: ``HEALING_SUPERVISOR__<NAME>``),
plus the conventional ``DATABASE_URL``, ``SUPABASE_URL``, ``SUPABASE_SERVICE_ROLE_KEY``,
``ALLOW_PROD_HEALING``, ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``; and the same name, lower-case
without the prefix, in a TOML file. The file is ``healing.toml`` in the working directory, or the path in
``HEALING_CONFIG``. Per-component settings live in ``[components.<name>]`` tables of that file and are
handed to the component as a plain dict. Lists are comma-separated in the environment (a JSON list works
too) and arrays in TOML.

Everything is validated once, by the pydantic model below, so a bad value from any source gives the same
one-line error naming the setting.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from healing_mcp.models import Environment

CsvList = list[str]
ENV_PREFIX = "HEALING_"
# Settings that are also read under their conventional names (first match wins).
ENV_ALIASES: dict[str, tuple[str, ...]] = {
    "allow_prod_healing": ("ALLOW_PROD_HEALING", "HEALING_ALLOW_PROD_HEALING"),
    "database_url": ("DATABASE_URL", "HEALING_DATABASE_URL"),
    "supabase_url": ("SUPABASE_URL", "HEALING_SUPABASE_URL"),
    "supabase_service_role_key": ("SUPABASE_SERVICE_ROLE_KEY", "HEALING_SUPABASE_SERVICE_ROLE_KEY"),
    "anthropic_api_key": ("ANTHROPIC_API_KEY",),
    "anthropic_base_url": ("ANTHROPIC_BASE_URL",),
}


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and what to do."""


class SupervisorSettings(BaseModel):
    """Guards of the healing loop. All of them bound how much one run can change.

    Environment form: ``HEALING_SUPERVISOR__MAX_FIXES_PER_RUN=5``; file form: ``[supervisor]`` table.
    """

    model_config = ConfigDict(extra="forbid")

    max_fixes_per_run: int = Field(default=10, ge=0, description="At most this many fix attempts per pass.")
    max_attempts: int = Field(default=6, ge=1, description="Attempts per issue before it is persistent.")
    breaker_threshold: int = Field(
        default=3, ge=1, description="Consecutive failed fixes that open the circuit breaker."
    )
    plans_per_issue: int = Field(default=3, ge=1, description="Candidate fixes tried per issue per pass.")
    backoff_base_seconds: float = Field(default=30.0, ge=0, description="First retry delay; doubles.")
    backoff_max_seconds: float = Field(default=3600.0, ge=0)
    flap_limit: int = Field(default=3, ge=1, description="Returns after resolution that mark flapping.")
    flap_window_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0, description="How long a claim survives its holder.")
    interval_seconds: float = Field(default=60.0, gt=0, description="Pause between passes when looping.")
    # How long one call into a component may take before it counts as failed (a fixer awaiting forever
    # must not hang the pass). A component's own ``[components.<name>]`` table may set the same keys.
    propose_timeout_seconds: float = Field(default=30.0, gt=0, description="Limit of a fixer's propose.")
    apply_timeout_seconds: float = Field(default=120.0, gt=0, description="Limit of a fixer's apply and revert.")
    retest_timeout_seconds: float = Field(default=120.0, gt=0, description="Limit of a retest.")
    poll_timeout_seconds: float = Field(default=30.0, gt=0, description="Limit of a sensor's poll.")


COMPONENT_TIMEOUTS = ("propose", "apply", "retest", "poll")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    home: Path = Field(default=Path(".healing"), description="Where the embedded store, events and patches live.")
    env: Environment | None = Field(
        default=None,
        description="dev, staging or prod. Unset means dev with the embedded store and prod with a remote one.",
    )
    allow_prod_healing: bool = Field(
        default=False,
        description="Set ALLOW_PROD_HEALING=1 to let fixes beyond read-only act outside dev.",
    )
    events_dir: Path | None = Field(default=None, description="JSONL event files; default <home>/events.")
    db_path: Path | None = Field(default=None, description="SQLite file; default <home>/healing.db.")
    database_url: SecretStr | None = Field(
        default=None,
    )
    supabase_url: str | None = Field(
        default=None,
    )
    supabase_service_role_key: SecretStr | None = Field(
        default=None,
    )
    project_root: Path = Field(default=Path("."), description="Source tree that patches apply to.")
    tool_names: Literal["underscore", "dotted"] = Field(
        default="underscore", description="'dotted' exposes healing.get_health_report etc."
    )
    http_token: SecretStr | None = Field(default=None, description="Bearer token for non-local HTTP binds.")
    http_allowed_hosts: CsvList = Field(
        default_factory=list, description="Extra Host header values accepted over HTTP, e.g. 'mcp.example.com'."
    )
    http_allowed_origins: CsvList = Field(
        default_factory=list, description="Browser origins accepted over HTTP, e.g. 'https://app.example.com'."
    )
    recent_window_seconds: float = Field(
        default=86_400.0, gt=0, description="Unresolved issues seen within this window count toward health."
    )
    enabled_components: CsvList | None = Field(
        default=None, description="Enable only these components (default: every installed one)."
    )
    plugins: CsvList = Field(default_factory=list, description="Extra components as 'module:attribute' import paths.")
    component_settings: dict[str, dict[str, Any]] = Field(default_factory=dict, exclude=True)
    llm: Literal["auto", "off"] = Field(
        default="auto", description="'auto' asks Claude for a diagnosis when ANTHROPIC_API_KEY is set."
    )
    llm_model: str = Field(default="claude-sonnet-5-5", description="Model used for LLM diagnosis.")
    anthropic_api_key: SecretStr | None = Field(default=None, exclude=True)
    anthropic_base_url: str | None = Field(
        default=None,
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)

    @field_validator("enabled_components", "plugins", "http_allowed_hosts", "http_allowed_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):  # the JSON form, ["a", "b"], is accepted too
                try:
                    return json.loads(value)
                except ValueError as exc:
                    raise ValueError(f"not a valid JSON list: {value!r}") from exc
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # ----------------------------------------------------------------------------------- derived

    @property
    def environment(self) -> Environment:
        """The effective environment. Unset + a remote store is treated as prod: never guess 'dev'
        about a database that may be production."""
        if self.env is not None:
            return self.env
        return Environment.prod if self.store_kind != "sqlite" else Environment.dev

    @property
    def store_kind(self) -> Literal["sqlite", "postgres", "supabase"]:
        if self.database_url is not None:
            return "postgres"
        if self.supabase_url is not None:
            return "supabase"
        return "sqlite"

    @property
    def resolved_events_dir(self) -> Path:
        return self.events_dir if self.events_dir is not None else self.home / "events"

    @property
    def resolved_db_path(self) -> Path:
        return self.db_path if self.db_path is not None else self.home / "healing.db"

    @property
    def patches_dir(self) -> Path:
        return self.home / "patches"

    def component_config(self, name: str) -> dict[str, Any]:
        return dict(self.component_settings.get(name, {}))

    def component_timeout(self, name: str, call: str) -> float:
        """Seconds one ``call`` (propose, apply, retest or poll) into component ``name`` may take."""
        key = f"{call}_timeout_seconds"
        value = self.component_settings.get(name, {}).get(key)
        return float(value) if value is not None else float(getattr(self.supervisor, key))

    @field_validator("component_settings")
    @classmethod
    def _component_timeouts(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, table in value.items():
            if not isinstance(table, dict):
                raise ValueError(f"[components.{name}] must be a table of settings")
            for call in COMPONENT_TIMEOUTS:
                seconds = table.get(f"{call}_timeout_seconds")
                if seconds is not None and (
                    isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0
                ):
                    raise ValueError(
                        f"{name}.{call}_timeout_seconds must be a number of seconds above 0, not {seconds!r}"
                    )
        return value

    def component_enabled(self, name: str) -> bool:
        return self.enabled_components is None or name in self.enabled_components


def environment_values(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings present in the environment, as raw strings keyed like the model's fields."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        if name == "component_settings":
            continue
        if name == "supervisor":
            nested = {
                sub: env[f"{ENV_PREFIX}SUPERVISOR__{sub.upper()}"]
                for sub in SupervisorSettings.model_fields
                if f"{ENV_PREFIX}SUPERVISOR__{sub.upper()}" in env
            }
            if nested:
                values[name] = nested
            continue
        for key in ENV_ALIASES.get(name, (f"{ENV_PREFIX}{name.upper()}",)):
            if key in env:
                values[name] = env[key]
                break
    return values


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from explicit overrides (highest), the environment, the TOML file and defaults."""
    path = config_file or Path(os.environ.get("HEALING_CONFIG", "healing.toml"))
    file_values: dict[str, Any] = {}
    if path.is_file():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}. Fix the TOML or remove the file.") from exc
    elif "HEALING_CONFIG" in os.environ and config_file is None:
        raise ConfigError(f"HEALING_CONFIG points to {path}, which does not exist.")
    file_values["component_settings"] = file_values.pop("components", {})
    merged: dict[str, Any] = {}
    for layer in (file_values, environment_values(), overrides):
        for key, value in layer.items():
            if key == "supervisor" and isinstance(value, dict) and isinstance(merged.get(key), dict):
                value = {**merged[key], **value}  # nested settings merge key by key across layers
            merged[key] = value
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {describe_errors(exc)}") from exc


def describe_errors(exc: ValidationError) -> str:
    def where(loc: tuple[int | str, ...]) -> str:
        # component_settings is the [components] table of the file
        return ".".join("components" if p == "component_settings" else str(p) for p in loc) or "value"

    return "; ".join(f"{where(err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()[:5])
