"""Benchmarks for healing-mcp (run one with ``python -m benchmarks.<name>``)."""
