"""The mail settings: SMTP when SELFCARE_SMTP_HOST is set, else a maildir beside the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfcare import config

MAIL_VARIABLES = (
    "SELFCARE_SMTP_HOST", "SELFCARE_SMTP_PORT", "SELFCARE_SMTP_USER", "SELFCARE_SMTP_PASSWORD",
    "SELFCARE_SMTP_STARTTLS", "SELFCARE_MAIL_FROM", "SELFCARE_MAILDIR", "SELFCARE_BASE_URL",
    "SELFCARE_DB", "SELFCARE_DATABASE_URL",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in MAIL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_a_host_mails_go_to_a_maildir_beside_the_database(tmp_path):
    mail = config.load_mail_settings(config.load_settings(db=tmp_path / "state" / "app.db"))
    assert mail.channel == "maildir"
    assert mail.maildir == tmp_path / "state" / "maildir"
    assert mail.smtp_host is None
    assert mail.mail_from == "SelfCare <selfcare@localhost>"
    assert str(mail.maildir) in mail.where()


def test_the_default_database_puts_the_maildir_in_data():
    assert config.load_mail_settings().maildir == Path("data/maildir")


def test_smtp_settings_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("SELFCARE_SMTP_HOST", "mail.example.test")
    monkeypatch.setenv("SELFCARE_SMTP_PORT", "2525")
    monkeypatch.setenv("SELFCARE_SMTP_STARTTLS", "0")
    monkeypatch.setenv("SELFCARE_MAIL_FROM", "Portal <portal@example.test>")
    monkeypatch.setenv("SELFCARE_MAILDIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("SELFCARE_BASE_URL", "https://portal.example.test/")
    mail = config.load_mail_settings()
    assert (mail.channel, mail.smtp_host, mail.smtp_port) == ("smtp", "mail.example.test", 2525)
    assert mail.smtp_starttls is False
    assert mail.mail_from == "Portal <portal@example.test>"
    assert mail.maildir == tmp_path / "elsewhere"
    assert mail.base_url == "https://portal.example.test"
    assert mail.where() == "SMTP mail.example.test:2525"


def test_a_user_turns_starttls_on_and_the_port_to_submission(monkeypatch):
    monkeypatch.setenv("SELFCARE_SMTP_HOST", "mail.example.test")
    monkeypatch.setenv("SELFCARE_SMTP_USER", "portal")
    monkeypatch.setenv("SELFCARE_SMTP_PASSWORD", "pw-for-tests")
    mail = config.load_mail_settings()
    assert (mail.smtp_starttls, mail.smtp_port) == (True, 587)
    assert (mail.smtp_user, mail.smtp_password) == ("portal", "pw-for-tests")
    assert "pw-for-tests" not in mail.where()


def test_plain_smtp_defaults_to_port_25(monkeypatch):
    monkeypatch.setenv("SELFCARE_SMTP_HOST", "mail.example.test")
    mail = config.load_mail_settings()
    assert (mail.smtp_starttls, mail.smtp_port) == (False, 25)


def test_the_demo_says_where_its_mails_go(tmp_path, monkeypatch):
    from selfcare.cli.demo import demo_mail_destination

    settings = config.load_settings(db=tmp_path / "app.db")
    assert str((tmp_path / "maildir").resolve()) in demo_mail_destination(settings)
    monkeypatch.setenv("SELFCARE_SMTP_HOST", "mail.example.test")
    assert demo_mail_destination(settings) == "SMTP mail.example.test:25"
