"""`selfcare serve`: the portal under waitress, a production WSGI server (8 threads, one process).

One process on purpose: the login throttling counters and the DuckDB connection live in memory
and are shared by the threads. Put a TLS-terminating reverse proxy in front for HTTPS
(docs/security.md).
"""

from __future__ import annotations

import logging

from selfcare import config
from selfcare.config import Settings

log = logging.getLogger("selfcare.serve")

THREADS = config.DEFAULT_THREADS


def waitress_options() -> dict[str, object]:
    """waitress's settings for the portal (issue 13): threads and open connections from config;
    `channel_request_lookahead` keeps a busy connection readable, so waitress notices a client
    that hung up and an export stops (environ["waitress.client_disconnected"])."""
    limits = config.limit_settings()
    return {
        "threads": limits.threads,
        "connection_limit": limits.connection_limit,
        "channel_request_lookahead": 1,
    }


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Build the app (refusing a weak configuration) and serve it until interrupted."""
    from waitress import serve as waitress_serve

    from selfcare.web.app import create_app

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = create_app(settings)
    scheme = "https" if settings.https else "http"
    shown = "localhost" if host in ("0.0.0.0", "::", "127.0.0.1") else host  # noqa: S104
    log.info("SelfCare portal at %s://%s:%d/ (lake %s)", scheme, shown, port, settings.lake)
    waitress_serve(
        server,
        host=host,
        port=port,
        ident="selfcare",
        **waitress_options(),
        # Behind a proxy, its X-Forwarded-* headers are read by ProxyFix (SELFCARE_PROXY_HOPS).
        clear_untrusted_proxy_headers=True,
    )
