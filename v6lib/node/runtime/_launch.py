"""Launcher of the process runtime: a ``/bin/sh`` parent that writes the algorithm's exit code.

Why: a restarted node is no longer the parent of the algorithm process, so it cannot
learn the exit code from ``wait()``; this tiny parent outlives the node and records it
in ``EXIT_FILE``. The node reserves that file (blanks) before the run starts and the
shell writes the code over its first bytes without truncating it, so recording an exit
code needs no new disk block: a run that ends while the disk is full still has its code
(a temporary file and a rename would need room the disk no longer has). A shell starts
in about a millisecond where a second Python interpreter took tens, which is most of the
run's start cost.

The launcher waits for a line on its stdin before it runs anything: the node sends it
once it has applied the run's limits (:mod:`v6lib.node.runtime.process_limits`) and
recorded the run's state file. A node that dies before then closes the pipe, and the
launcher exits (code 125) without running the algorithm, so a restarted node never
finds a run it has no record of.

A child killed by signal N is recorded as 128 + N, the shell's convention. The shell is
the process group leader (the runtime starts it in a new session), so killing the group
stops the shell and the algorithm together; no exit file is then written.

The shell writes the exit file without guarding against links: it runs as the node's
user, like the algorithm itself, which could write any of the node's files anyway (the
process runtime isolates nothing). The node reads the file back without following
links (:mod:`v6lib.node.runtime.process_files`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SHELL", "launcher_argv"]

SHELL = "/bin/sh"
_SCRIPT = 'exit_file=$1; shift; read -r _go || exit 125; "$@" </dev/null; code=$?; ' \
          'printf "%s" "$code" 1<>"$exit_file"; exit "$code"'


def launcher_argv(exit_file: str, command: Sequence[str]) -> list[str]:
    """The argv that runs ``command`` and records its exit code in ``exit_file``."""
    return [SHELL, "-c", _SCRIPT, "v6-launch", exit_file, *command]
