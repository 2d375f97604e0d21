"""Plain error pages (templates/error.html) for every error: never a stack trace, JSON for data
routes."""

from __future__ import annotations

import logging
from typing import Any

from dash.exceptions import DependencyException
from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from selfcare.web.auth.context import is_data_path, json_error

log = logging.getLogger("selfcare.web.auth")

ERROR_TEXT = {
    401: ("Sign in required", "Please sign in to continue."),
    403: ("Not available", "This page is not part of your profile."),
    404: ("Not found", "There is no such page."),
    405: ("Not allowed", "That method is not allowed here."),
    429: ("Too many requests", "Please wait a moment and try again."),
    500: ("Something went wrong", "The portal could not complete the request. Try again later."),
}


def install_error_handlers(server: Flask) -> None:
    def render(status: int) -> Any:
        title, text = ERROR_TEXT.get(status, ("Error", "The request could not be completed."))
        if is_data_path(request.path):
            return json_error(status, text)
        return render_template("error.html", title=title, text=text), status

    @server.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        if e.code is None or e.code < 400:
            return e
        if e.code == 429 and e.response is not None:
            return e.response  # the throttled login page
        return render(e.code)

    @server.errorhandler(Exception)
    def server_error(e: Exception) -> Any:
        if request.path.startswith("/_dash-component-suites/") and isinstance(
            e, (DependencyException, OSError, KeyError, ValueError)
        ):
            # An unknown bundle (or a file not in a registered one) is simply not there.
            log.info("no such bundle: %s", request.path[:200])
            return render(404)
        log.exception("unhandled error on %s", request.path)
        return render(500)
