"""Serve the web UI's files from the package, with headers that keep them in their lane.

The files are read once at start-up from ``static/`` beside this module (they ship in
the wheel, so no Node.js is needed at run time). Only those file names are served,
one path segment each, so no request can reach another file.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import falcon

from v6lib.errors import NotFoundError
from v6lib.server.resources._base import Resource

__all__ = ["SECURITY_HEADERS", "STATIC_DIR", "UiAsset", "UiIndex", "UiRedirect", "load_assets",
           "ui_routes"]

STATIC_DIR = Path(__file__).with_name("static")
UI_PATH = "/ui"

#: Scripts and styles only from this server, no inline code, no framing: a value the
#: API returns (a task name, a log) can never run as code in the page.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

_SCRIPT = "text/javascript; charset=utf-8"
_TYPES = {".js": _SCRIPT, ".mjs": _SCRIPT, ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _asset(body: bytes, name: str) -> Asset:
    suffix = Path(name).suffix
    kind = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Asset(body, kind, hashlib.sha256(body).hexdigest()[:32])


def load_assets(api_path: str, directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every file of ``directory`` by name; ``index.html`` learns where the API is."""
    assets = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        if path.name == "index.html":
            body = body.replace(b"{{API_PATH}}", api_path.encode("utf-8"))
        assets[path.name] = _asset(body, path.name)
    if "index.html" not in assets:
        raise FileNotFoundError(f"the web UI's index.html is missing from {directory}")
    return assets


def _send(req: falcon.Request, resp: falcon.Response, asset: Asset) -> None:
    for name, value in SECURITY_HEADERS.items():
        resp.set_header(name, value)
    # NOTE: revalidated every time (cheap 304s), so a server upgrade never mixes old and
    # new modules in one browser.
    resp.cache_control = ["no-cache"]
    resp.etag = asset.etag
    if req.get_header("If-None-Match") == f'"{asset.etag}"':
        resp.status = 304
        return
    resp.content_type = asset.content_type
    resp.data = asset.body


class UiIndex(Resource):
    """``/ui``: the page that loads the application."""

    auth = False

    def __init__(self, assets: dict[str, Asset]) -> None:
        self.assets = assets

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _send(req, resp, self.assets["index.html"])


class UiAsset(Resource):
    """``/ui/{name}``: one of the UI's files."""

    auth = False

    def __init__(self, assets: dict[str, Asset]) -> None:
        self.assets = assets

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        asset = self.assets.get(name)
        if asset is None:
            raise NotFoundError(f"the web UI has no file {name!r}")
        _send(req, resp, asset)


class UiRedirect(Resource):
    """``/``: a person who opens the server's address lands on the UI."""

    auth = False

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPFound(UI_PATH)


def ui_routes(api_path: str) -> list[tuple[str, Resource]]:
    """The UI's routes, absolute (not under ``api_path``)."""
    assets = load_assets(api_path)
    return [("/", UiRedirect()), (UI_PATH, UiIndex(assets)),
            (f"{UI_PATH}/{{name}}", UiAsset(assets))]
