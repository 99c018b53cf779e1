"""Benchmark scripts that print figures (run with ``python -m recbole_hier.bench.<name>``)."""
