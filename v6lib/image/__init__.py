"""Algorithm images: built offline from the developer's environment, and checked against it.

``build`` makes an algorithm package's image (``v6 algorithm build``), ``lock`` records
and compares the versions an image carries, ``requirements`` pins requirements to this
environment and ``wheelhouse`` fetches the wheels an image needs on the host. The
project's base image (``.ci/images.sh``) is pinned and fetched the same way
(``python -m v6lib.image``).
"""

from __future__ import annotations

__all__: list[str] = []
