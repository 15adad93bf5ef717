"""Browser healing benchmark: healing-mcp's element matcher against common baselines.

Run with ``python -m benchmarks.browser_healing`` from the repository root (see ``__main__``).
"""
