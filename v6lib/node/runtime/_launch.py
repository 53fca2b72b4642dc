"""Launcher of the process runtime: runs the algorithm and writes its exit code to a file.

Why: a restarted node is no longer the parent of the algorithm process, so it cannot
learn the exit code from ``wait()``; this tiny parent outlives the node and records it.
Usage: ``python -m v6lib.node.runtime._launch EXIT_FILE -- COMMAND...``.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: _launch EXIT_FILE -- COMMAND...", file=sys.stderr)
        return 2
    exit_file, command = argv[0], argv[2:]
    code = subprocess.call(command)
    tmp = f"{exit_file}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(str(code))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, exit_file)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
