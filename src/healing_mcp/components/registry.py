"""Finding and loading components.

Built-in and third-party components arrive the same way: an entry point in the
``healing_mcp.components`` group (``name = "package.module:attribute"``), or an import path in the
``plugins`` setting. The attribute is a :class:`~healing_mcp.components.base.Component` or a callable
returning one. A component that fails to import, build or configure (or whose fixers lack a name or a
valid risk) is recorded in :attr:`Registry.failures` and reported as broken; the others keep working.
Entry points of components that ``enabled_components`` leaves out are not loaded at all; a plugin path
listed in ``plugins`` is an explicit request, so its failure to load is reported either way.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from healing_mcp.components.base import Component
from healing_mcp.logs import get_logger
from healing_mcp.models import FixRisk

if TYPE_CHECKING:
    from healing_mcp.config import Settings

ENTRY_POINT_GROUP = "healing_mcp.components"
log = get_logger(__name__)


def _short_error(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _resolve(target: Any) -> Component:
    obj = target() if callable(target) and not isinstance(target, Component) else target
    if not isinstance(obj, Component):
        raise TypeError(f"expected a healing_mcp Component, got {type(obj).__name__}")
    for fixer in obj.fixers:
        name = getattr(fixer, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"the fixer {fixer!r} of {obj.name} has no name (a non-empty 'name' string)")
        risk = getattr(fixer, "risk", None)
        if risk not in tuple(FixRisk):
            choices = ", ".join(r.value for r in FixRisk)
            raise TypeError(f"the fixer {obj.name}.{name} declares risk {risk!r}; use one of {choices}")
    return obj


def import_object(path: str) -> Any:
    """Import ``package.module:attribute`` (or ``package.module.attribute``)."""
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"plugin path {path!r} should look like 'package.module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass
class Registry:
    components: dict[str, Component] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)  # installed entry points left out by enabled_components

    def register(self, component: Component) -> None:
        self.components[component.name] = component
        self.failures.pop(component.name, None)

    def record_failure(self, name: str, error: str) -> None:
        log.warning("component failed", component=name, error=error)
        self.failures[name] = error

    def get(self, name: str) -> Component | None:
        return self.components.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(set(self.components) | set(self.failures))

    async def aclose(self) -> None:
        for component in self.components.values():
            try:
                await component.aclose()
            except Exception as exc:  # a component failing to clean up must not block the others
                log.warning("component close failed", component=component.name, error=_short_error(exc))

    # ------------------------------------------------------------------------------ loading

    def load(self, settings: Settings, extra: Iterable[tuple[str, Callable[[], Any]]] = ()) -> Registry:
        """Load every enabled component from entry points, the plugins setting and ``extra``."""
        sources: list[tuple[str, Callable[[], Any]]] = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            # A disabled component is not even imported: its failure to load is no one's problem.
            if settings.component_enabled(ep.name):
                sources.append((ep.name, ep.load))
            else:
                self.disabled.add(ep.name)
        for path in settings.plugins:
            sources.append((path, lambda path=path: import_object(path)))  # type: ignore[misc]
        sources.extend(extra)
        for label, loader in sources:
            try:
                component = _resolve(loader())
            except Exception as exc:
                self.record_failure(label, f"failed to load {label}: {_short_error(exc)}")
                continue
            if not settings.component_enabled(component.name):
                continue
            try:
                component.configure(settings, settings.component_config(component.name))
            except Exception as exc:
                self.record_failure(component.name, f"failed to configure: {_short_error(exc)}")
                continue
            self.register(component)
        return self


def load_components(settings: Settings) -> Registry:
    return Registry().load(settings)
