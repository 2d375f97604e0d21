"""A real SMTP server on loopback for the tests: aiosmtpd's `Controller` on 127.0.0.1 and a free
port, capturing every message it accepts.

`smtp_server` is plain SMTP; `smtp_tls_server` offers STARTTLS (and requires it, and AUTH after
it) with a throwaway self-signed certificate for 127.0.0.1 made by the `openssl` command, which
the client trusts through SSL_CERT_FILE (OpenSSL's default verify paths read it), so the code
under test keeps verifying certificates as in production. `server.refuse(n)` answers the next n
DATA commands with a temporary failure (451); `server.stop()` / `server.start()` take it down
and bring it back on the same port.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class Capture:
    """The handler: keeps what it accepts, or refuses on demand."""

    messages: list[Captured] = field(default_factory=list)
    refusals: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            if self.refusals > 0:
                self.refusals -= 1
                return "451 4.3.0 Try again later (test refusal)"
            raw = envelope.original_content or envelope.content
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            login = session.login_data
            self.messages.append(
                Captured(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=msg,  # type: ignore[arg-type]
                    tls=session.ssl is not None,
                    login=login.decode() if isinstance(login, bytes) else login,
                )
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    host = "127.0.0.1"

    def __init__(self, **smtp_kwargs: Any) -> None:
        self.port = free_port()
        self.capture = Capture()
        self._kwargs = smtp_kwargs
        self._controller: Any = None

    @property
    def messages(self) -> list[Captured]:
        with self.capture.lock:
            return list(self.capture.messages)

    def refuse(self, n: int) -> None:
        with self.capture.lock:
            self.capture.refusals = n

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            self.capture, hostname=self.host, port=self.port, **self._kwargs
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _authenticator(users: dict[str, str]):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ARG001
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if users.get(login) != password:
            return AuthResult(success=False, handled=False)  # the server answers 535
        return AuthResult(success=True, auth_data=auth_data)

    return check


@pytest.fixture
def smtp_server():
    """A plain SMTP server on 127.0.0.1:<free port>, running for the test."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


TLS_USER = ("mailer", "s3cret-for-tests")


@pytest.fixture
def smtp_tls_server(tmp_path_factory, monkeypatch):
    """An SMTP server that requires STARTTLS, then AUTH as TLS_USER."""
    cert, key = _self_signed(tmp_path_factory.mktemp("smtp-cert"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server = SmtpServer(
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_authenticator({TLS_USER[0]: TLS_USER[1]}),
    )
    server.start()
    yield server
    server.stop()
