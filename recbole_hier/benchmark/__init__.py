"""Benchmarks: the leaderboard suite runner (``python -m recbole_hier.benchmark --suite``)
and scripts that print speed figures (``python -m recbole_hier.benchmark.<script>``)."""
