"""``python -m v6lib.wrappers [PKG_NAME]``: the algorithm container entrypoint."""

from __future__ import annotations

from v6lib.wrappers.runner import main

if __name__ == "__main__":
    raise SystemExit(main())
