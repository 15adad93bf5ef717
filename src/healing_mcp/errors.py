"""Errors a user can act on. Their message says what was wrong and what to do instead.

The MCP layer returns them as ``isError`` results with the message; the CLI prints them as one line.
Anything else that escapes is a bug: it is logged with its traceback and reported as an internal error.
"""

from __future__ import annotations


class HealingError(Exception):
    """Base class: the message is shown to the user as-is."""


class InvalidRequest(HealingError):
    """The caller asked for something malformed or contradictory."""


class NotFound(HealingError):
    """An id that does not exist (issue, patch...)."""


class ComponentFailure(HealingError):
    """A component (plugin) failed while doing its part; the failure is recorded, the server lives on."""


class StoreError(HealingError, RuntimeError):
    """The store cannot do what was asked; the message says why and what to check."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now (network, locked file). Retrying later may work."""
