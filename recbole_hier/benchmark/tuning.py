"""Hyper-parameter tuning inside a suite: grid points, run names, the validation choice.

Each tuned model trains once per grid point on each tuning dataset at the tuning
seed; the point with the best validation metric (never a test metric) is then used
for every seed of that model. A grid run is stored like any other run, under the
name ``<model>@<key>=<value>[,...]``, so tuning resumes too.
"""

import itertools

SEPARATOR = "@"


def grid_points(grid):
    """Every combination of a ``{key: [values]}`` grid, keys in sorted order."""
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def point_tag(point):
    return ",".join(f"{k}={point[k]}" for k in sorted(point))


def run_name(name, point):
    return f"{name}{SEPARATOR}{point_tag(point)}"


def is_tuning_name(name):
    return SEPARATOR in name


def choose(records, points):
    """The grid point whose run has the best validation metric (first in grid order on ties).

    ``records`` maps ``point_tag(point)`` to a stored run (or None while it is missing).
    Returns (point, score) or raises LookupError naming the missing points.
    """
    missing = [point_tag(p) for p in points if records.get(point_tag(p)) is None]
    if missing:
        raise LookupError("grid point(s) not finished: " + "; ".join(missing))
    best, best_score = None, None
    for point in points:
        record = records[point_tag(point)]
        score = record["best_valid"].get(record["valid_metric"].lower())
        if score is not None and (best_score is None or score > best_score):
            best, best_score = point, score
    if best is None:
        raise LookupError("no grid run recorded a validation score")
    return best, best_score
