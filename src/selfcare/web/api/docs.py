"""The API's browsable page at `/api/v1/docs`: Swagger UI (from the swagger-ui-bundle package,
served by the portal itself: the browser may have no internet and the CSP allows only 'self')
over `/api/v1/openapi.json`. Signed-in users only, like the document itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

HERE = Path(__file__).resolve().parent / "static"
VENDOR = Path(str(swagger_ui_path))
VENDOR_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
OWN_FILES = frozenset({"selfcare-docs.js"})

bp = Blueprint("api-docs-page", __name__, url_prefix="/api/v1/docs")


@bp.get("")
def page() -> Any:
    return send_from_directory(HERE, "docs.html", mimetype="text/html")


@bp.get("/assets/<string:name>")
def asset(name: str) -> Any:
    # A fixed list: nothing else of the package (or the disk) is reachable through this route.
    if name in VENDOR_FILES:
        return send_from_directory(VENDOR, name)
    if name in OWN_FILES:
        return send_from_directory(HERE, name)
    abort(404)
