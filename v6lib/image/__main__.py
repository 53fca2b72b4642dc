"""``python -m v6lib.image``: the steps ``.ci/images.sh`` shares with ``v6 algorithm build``.

    python -m v6lib.image pins PYPROJECT      the [project] dependencies, pinned to this
                                              environment, one a line
    python -m v6lib.image download DEST REQ...   wheels for the image platform into DEST

Only the standard library and these modules are imported, so the shell script can run it
from a checkout (``PYTHONPATH=<checkout>``) with any Python that has pip.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from v6lib.errors import V6Error
from v6lib.image.requirements import pinned
from v6lib.image.wheelhouse import download

USAGE = "usage: python -m v6lib.image pins PYPROJECT | download DEST REQUIREMENT..."


def main(argv: list[str]) -> int:
    """Run one step; the exit status (2 for a wrong call)."""
    if len(argv) == 2 and argv[0] == "pins":
        with Path(argv[1]).open("rb") as handle:
            specs = tomllib.load(handle)["project"]["dependencies"]
        print("\n".join(pinned(specs)))
        return 0
    if len(argv) >= 3 and argv[0] == "download":
        try:
            download(argv[2:], Path(argv[1]))
        except V6Error as exc:
            print(exc.message, file=sys.stderr)
            return 1
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
