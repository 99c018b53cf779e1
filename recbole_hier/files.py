"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file this package writes (checkpoints, benchmark progress, text caches, run
records, leaderboards, search tables) goes through :func:`atomic_path`: the content is
written to a fresh name beside the target and renamed over it, and the temporary file
is removed when writing fails. The temporary file is created like any other file
(mode 0666 less the umask), so the result has the user's normal permissions.
"""

import contextlib
import json
import os
import shutil
import uuid


def _naming(err, path):
    return OSError(err.errno, f"writing {path!r} failed: {err.strerror or err}")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise _naming(err, path) from err
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}-{os.path.basename(path)}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:  # a full disk says which file, not only "[Errno 28]"
        raise _naming(err, path) from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "x", encoding="utf-8", newline="") as f:
            f.write(text)


def write_json(path, value, **dump_args):
    write_text(path, json.dumps(value, **dump_args))


def copy_file(source, path):
    """Copy ``source`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
