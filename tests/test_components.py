"""Components load as plugins (entry points or import paths); a failing plugin is isolated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from healing_mcp.components.registry import load_components
from healing_mcp.config import ConfigError, Settings, load_settings
from healing_mcp.core.engine import Engine
from healing_mcp.models import Environment, HealthState


@pytest.fixture
def plugin_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution (dist-info on sys.path) that declares two components."""
    site = tmp_path / "site"
    info = site / "acme_healing-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-healing\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[healing_mcp.components]\n"
        "files = tests.plugins.files_component:component\n"
        "ghost = tests.plugins.files_component:broken_plugin\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_entry_points_load_and_failures_are_isolated(plugin_distribution: Path, settings: Settings) -> None:
    registry = load_components(settings)
    assert "files" in registry.components
    assert "ghost" in registry.failures
    assert "ImportError: this plugin needs a library that is not installed" in registry.failures["ghost"]


def test_a_disabled_entry_point_is_not_even_loaded(
    plugin_distribution: Path, make_settings: Callable[..., Settings]
) -> None:
    registry = load_components(make_settings(enabled_components=["files"]))
    assert set(registry.components) == {"files"}
    assert registry.failures == {}, "a broken plugin nobody enabled is not reported"


def test_a_fixer_with_an_unknown_risk_breaks_its_component(make_settings: Callable[..., Settings]) -> None:
    registry = load_components(make_settings(plugins=["tests.plugins.files_component:risky_plugin"]))
    assert "files" not in registry.components
    (error,) = registry.failures.values()
    assert "declares risk 'harmless'; use one of read_only, reversible" in error


def test_plugins_setting_and_enable_list(make_settings: Callable[..., Settings]) -> None:
    registry = load_components(make_settings(plugins=["tests.plugins.files_component:component", "no.such:thing"]))
    assert "files" in registry.components
    assert "ModuleNotFoundError" in registry.failures["no.such:thing"]
    disabled = load_components(
        make_settings(plugins=["tests.plugins.files_component:component"], enabled_components=["browser"])
    )
    assert "files" not in disabled.components


async def test_broken_plugin_shows_in_the_report(plugin_distribution: Path, settings: Settings) -> None:
    async with await Engine.open(settings) as engine:
        report = await engine.report()
    ghost = next(c for c in report.components if c.name == "ghost")
    assert ghost.state is HealthState.broken and not ghost.loaded
    assert report.overall is HealthState.broken
    files = next(c for c in report.components if c.name == "files")
    assert files.state is HealthState.healthy


def test_configuration_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HEALING_ENV", "DATABASE_URL", "SUPABASE_URL", "HEALING_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "healing.toml"
    config.write_text(
        'env = "staging"\nplugins = ["a:b"]\n[supervisor]\nmax_fixes_per_run = 4\n'
        "[components.browser]\nheadless = true\n"
    )
    settings = load_settings(config)
    assert settings.environment is Environment.staging
    assert settings.supervisor.max_fixes_per_run == 4
    assert settings.component_config("browser") == {"headless": True}
    monkeypatch.setenv("HEALING_ENV", "prod")
    monkeypatch.setenv("HEALING_SUPERVISOR__MAX_FIXES_PER_RUN", "7")
    monkeypatch.setenv("HEALING_PLUGINS", "x.y:z, p.q:r")
    settings = load_settings(config)
    assert (settings.environment, settings.supervisor.max_fixes_per_run) == (Environment.prod, 7)
    assert settings.plugins == ["x.y:z", "p.q:r"]
    assert load_settings(config, env=Environment.dev).environment is Environment.dev, "flags beat the environment"


def test_remote_store_without_env_is_treated_as_prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALING_ENV", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example.com/postgres")
    assert load_settings(tmp_path / "none.toml").environment is Environment.prod


def test_component_timeouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HEALING_ENV", "DATABASE_URL", "SUPABASE_URL", "HEALING_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "healing.toml"
    config.write_text("[supervisor]\napply_timeout_seconds = 300\n[components.browser]\nretest_timeout_seconds = 45\n")
    settings = load_settings(config)
    assert settings.component_timeout("browser", "retest") == 45
    assert settings.component_timeout("browser", "apply") == 300
    assert settings.component_timeout("files", "propose") == 30
    config.write_text('[components.browser]\napply_timeout_seconds = "soon"\n')
    with pytest.raises(ConfigError, match=r"browser.apply_timeout_seconds must be a number of seconds above 0"):
        load_settings(config)


def test_bad_configuration_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "healing.toml"
    bad.write_text("env = [unclosed")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(bad)
    bad.write_text('env = "production"\n')
    with pytest.raises(ConfigError, match="env: Input should be 'dev', 'staging' or 'prod'"):
        load_settings(bad)
    monkeypatch.setenv("HEALING_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()
