"""Delivering one message through a real SMTP server on loopback (aiosmtpd), with and without
STARTTLS and AUTH, and into a maildir read back with the standard library's mailbox.Maildir."""

from __future__ import annotations

import mailbox
import stat

import pytest

from selfcare.config import MailSettings
from selfcare.mail import DeliveryError, Rendered, build_message, deliver
from tests.smtp_support import TLS_USER


def _message(to="manager@example.test", mid="<outbox-1@selfcare.test>"):
    return build_message(
        Rendered("Waiting for your approval: ORD-1", "Hello Thandi,\nPlease approve.\n"),
        to=to,
        sender="SelfCare <portal@example.test>",
        message_id=mid,
    )


def test_smtp_delivery_reaches_the_server(smtp_server, tmp_path):
    mail = MailSettings(maildir=tmp_path / "unused", smtp_host=smtp_server.host,
                        smtp_port=smtp_server.port)
    deliver(_message(), mail)
    [got] = smtp_server.messages
    assert got.rcpt_tos == ["manager@example.test"]
    assert got.mail_from == "portal@example.test"
    assert got.message["Subject"] == "Waiting for your approval: ORD-1"
    assert got.message["Message-ID"] == "<outbox-1@selfcare.test>"
    assert got.message.get_content().replace("\r\n", "\n") == "Hello Thandi,\nPlease approve.\n"
    assert got.tls is False
    assert not (tmp_path / "unused").exists()


def test_starttls_and_login(smtp_tls_server, tmp_path):
    mail = MailSettings(maildir=tmp_path / "unused", smtp_host=smtp_tls_server.host,
                        smtp_port=smtp_tls_server.port, smtp_starttls=True,
                        smtp_user=TLS_USER[0], smtp_password=TLS_USER[1])
    deliver(_message(), mail)
    [got] = smtp_tls_server.messages
    assert got.tls is True
    assert got.login == TLS_USER[0]


def test_without_starttls_a_server_that_requires_it_refuses(smtp_tls_server, tmp_path):
    mail = MailSettings(maildir=tmp_path / "unused", smtp_host=smtp_tls_server.host,
                        smtp_port=smtp_tls_server.port, smtp_starttls=False)
    with pytest.raises(DeliveryError, match="SMTP 530"):
        deliver(_message(), mail)
    assert smtp_tls_server.messages == []


def test_a_wrong_password_is_a_delivery_error_without_the_password(smtp_tls_server, tmp_path):
    mail = MailSettings(maildir=tmp_path / "unused", smtp_host=smtp_tls_server.host,
                        smtp_port=smtp_tls_server.port, smtp_starttls=True,
                        smtp_user=TLS_USER[0], smtp_password="not-the-password")  # noqa: S106
    with pytest.raises(DeliveryError) as e:
        deliver(_message(), mail)
    assert "535" in str(e.value)
    assert "not-the-password" not in str(e.value)
    assert smtp_tls_server.messages == []


def test_a_server_that_is_down_is_a_delivery_error(smtp_server, tmp_path):
    smtp_server.stop()
    mail = MailSettings(maildir=tmp_path / "unused", smtp_host=smtp_server.host,
                        smtp_port=smtp_server.port, smtp_timeout=5)
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        deliver(_message(), mail)


def test_a_temporary_refusal_is_a_delivery_error(smtp_server, tmp_path):
    smtp_server.refuse(1)
    mail = MailSettings(maildir=tmp_path / "unused", smtp_host=smtp_server.host,
                        smtp_port=smtp_server.port)
    with pytest.raises(DeliveryError, match="451"):
        deliver(_message(), mail)
    deliver(_message(), mail)
    assert len(smtp_server.messages) == 1


def test_without_a_host_mails_go_to_a_private_maildir(tmp_path, caplog):
    where = tmp_path / "state" / "maildir"
    mail = MailSettings(maildir=where)
    with caplog.at_level("WARNING", logger="selfcare.mail.transport"):
        deliver(_message(to="a@example.test", mid="<m1@x>"), mail)
        deliver(_message(to="b@example.test", mid="<m2@x>"), mail)
    box = mailbox.Maildir(where, create=False)
    got = sorted((m["To"], m["Message-ID"]) for m in box)
    assert got == [("a@example.test", "<m1@x>"), ("b@example.test", "<m2@x>")]
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    # the log says where, once
    said = [r.getMessage() for r in caplog.records if str(where) in r.getMessage()]
    assert len(said) == 1
