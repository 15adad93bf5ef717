"""``python -m healing_mcp`` is the same as the ``healing-mcp`` command."""

import sys

from healing_mcp.cli import main

sys.exit(main())
