"""What a device run hands back, packed into the few flat files a device call returns.

A lent GPU returns at most 8 files from its output folder, 16 MiB each and 64 MiB together,
none deeper than two folders (``/work/.library/device/README.md``), while a suite writes one
record per run and a 6-25 MB progress file per paused run. So ``gpu.sh`` packs:

* ``records.tar.gz``: every record and leaderboard file of the suites that ran, written
  since the script started (paths relative to the results folder);
* ``progress.tar.NN``: the paused runs' ``<key>.progress/last.pth`` written since then
  (``best.pth`` is rebuilt from it on resume), smallest first while the budget lasts, as one
  tar split into pieces of at most ``--piece_mb``; a progress left out is named on stdout and
  that run restarts from its committed progress instead.

    python -m recbole_hier.benchmark.handback pack --results R --since STAMP --out OUT SUITE ...
    python -m recbole_hier.benchmark.handback unpack --results results DIR   # on the way back

Unpacking refuses a member path that leaves the results folder.
"""

import argparse
import glob
import io
import os
import tarfile

MIB = 1024 * 1024


def _changed(results, suites, since):
    """``(records, progress)``: paths relative to ``results`` modified after ``since`` (epoch s)."""
    records, progress = [], []
    for suite in sorted(set(suites)):
        for path in sorted(glob.glob(os.path.join(results, suite, "**", "*"), recursive=True)):
            if not os.path.isfile(path) or os.path.getmtime(path) <= since:
                continue
            rel = os.path.relpath(path, results)
            if os.path.basename(os.path.dirname(path)).endswith(".progress"):
                if os.path.basename(path) == "last.pth":
                    progress.append(rel)
            else:
                records.append(rel)
    return records, progress


def pack(results, suites, since, out, max_files=8, max_mb=64, piece_mb=15, reserved_files=2, reserved_mb=1):
    """Write ``records.tar.gz`` and ``progress.tar.NN`` into ``out``; returns ``(written, left_out)``
    (file names, and progress paths that did not fit). ``reserved_*``: what else ``out`` holds."""
    os.makedirs(out, exist_ok=True)
    records, progress = _changed(results, suites, since)
    written = []
    target = os.path.join(out, "records.tar.gz")
    with tarfile.open(target, "w:gz") as tar:
        for rel in records:
            tar.add(os.path.join(results, rel), arcname=rel)
    written.append(os.path.basename(target))
    piece = int(piece_mb * MIB)
    room = min(int((max_mb - reserved_mb) * MIB) - os.path.getsize(target),
               (max_files - reserved_files - 1) * piece)
    room -= tarfile.RECORDSIZE  # the archive's end blocks and padding
    kept, left_out = [], []
    for rel in sorted(progress, key=lambda r: os.path.getsize(os.path.join(results, r))):
        size = tarfile.BLOCKSIZE + -(-os.path.getsize(os.path.join(results, rel)) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        if size <= room:
            kept.append(rel)
            room -= size
        else:
            left_out.append(rel)
    if kept:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for rel in kept:
                tar.add(os.path.join(results, rel), arcname=rel)
        data = buffer.getvalue()
        for k, start in enumerate(range(0, len(data), piece)):
            name = f"progress.tar.{k:02d}"
            with open(os.path.join(out, name), "wb") as f:
                f.write(data[start:start + piece])
            written.append(name)
    return written, left_out


def _safe_members(tar, results):
    root = os.path.realpath(results)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(root, member.name))
        if not member.isfile() or os.path.commonpath([root, target]) != root:
            raise ValueError(f"{member.name!r}: not a file inside {results}; refusing to unpack")
    return tar.getmembers()


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def unpack(folder, results):
    """Extract ``records.tar.gz`` and the joined ``progress.tar.NN`` of ``folder`` into ``results``;
    returns the member paths."""
    names = []
    records = os.path.join(folder, "records.tar.gz")
    if os.path.exists(records):
        with tarfile.open(records, "r:gz") as tar:
            members = _safe_members(tar, results)
            tar.extractall(results, members=members, filter="data")
            names += [m.name for m in members]
    pieces = sorted(glob.glob(os.path.join(folder, "progress.tar.[0-9][0-9]")))
    if pieces:
        data = b"".join(_read(p) for p in pieces)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            members = _safe_members(tar, results)
            tar.extractall(results, members=members, filter="data")
            names += [m.name for m in members]
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--results", required=True)
    p.add_argument("--since", required=True, help="a file: what was modified after it is packed")
    p.add_argument("--out", required=True)
    p.add_argument("--piece_mb", type=int, default=15)
    p.add_argument("suites", nargs="*")
    u = sub.add_parser("unpack")
    u.add_argument("--results", required=True)
    u.add_argument("folder")
    args = parser.parse_args(argv)
    if args.command == "pack":
        written, left_out = pack(args.results, args.suites, os.path.getmtime(args.since), args.out,
                                 piece_mb=args.piece_mb)
        print(f"handback: wrote {', '.join(written)}")
        for rel in left_out:
            print(f"handback: no room for {rel} (that run resumes from its committed progress)")
    else:
        for name in unpack(args.folder, args.results):
            print(name)


if __name__ == "__main__":
    main()
