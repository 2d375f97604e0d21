"""The notification mails' texts: one template per kind, plain text, names rather than codes,
the order page's link, and nothing a fact could smuggle into the headers."""

from __future__ import annotations

import pytest

from selfcare.mail import KINDS, UnknownKind, build_message, render

FACTS = {
    "order_id": 42,
    "reference": "ORD-2026-0042",
    "action_name": "Add a service",
    "details": "International roaming",
    "lines": ["27820000001", "27820000002"],
    "requester_name": "Sipho Dlamini",
    "recipient_name": "Thandi Mokoena",
    "actor_name": "Thandi Mokoena",
    "reason": "Not needed for this trip",
    "request_reason": "Trip to Nairobi",
    "failure_reason": "the operator refused a prepaid-only service on a postpaid line",
    "effective_on": "2027-01-01",
    "monthly_change": "R 150.00",
}


@pytest.mark.parametrize(
    ("kind", "subject_start", "says"),
    [
        pytest.param("approval_requested", "Waiting for your approval: ORD-2026-0042",
                     ["Sipho Dlamini asked for a change", "Approve or reject"], id="approval"),
        pytest.param("approved", "Approved: your request ORD-2026-0042",
                     ["Thandi Mokoena approved your request"], id="approved"),
        pytest.param("rejected", "Rejected: your request ORD-2026-0042",
                     ['Reason given: "Not needed for this trip"'], id="rejected"),
        pytest.param("completed", "Completed: your request ORD-2026-0042",
                     ["takes effect on 2027-01-01"], id="completed"),
        pytest.param("failed", "Failed: your request ORD-2026-0042",
                     ["could not carry out your request: the operator refused"], id="failed"),
    ],
)
def test_each_kind_says_what_happened_with_names_and_the_link(kind, subject_start, says):
    mail = render(kind, FACTS, base_url="https://portal.example.test/")
    assert mail.subject.startswith(subject_start)
    assert "Add a service" in mail.subject
    assert "\n" not in mail.subject
    body = mail.body
    for text in says:
        assert text in body
    assert "Hello Thandi Mokoena," in body
    assert "https://portal.example.test/requests/42\n" in body
    assert "International roaming" in body
    assert "27820000001, 27820000002" in body
    # names, not codes; nothing undefined shows up
    assert "add_service" not in body
    assert "None" not in body and "Undefined" not in body


def test_every_kind_has_a_template():
    for kind in KINDS:
        assert render(kind, {"reference": "ORD-1"}).subject


def test_missing_facts_render_as_nothing_and_the_link_is_a_path_without_base():
    mail = render("approved", {"reference": "ORD-7", "order_id": 7})
    assert mail.subject == "Approved: your request ORD-7"
    assert "/requests/7\n" in mail.body
    assert "None" not in mail.body
    assert "Hello there," in mail.body


def test_html_is_not_escaped_in_a_plain_text_mail():
    mail = render("rejected", {**FACTS, "reason": "Use the R&D budget <next year>"})
    assert 'Reason given: "Use the R&D budget <next year>"' in mail.body


def test_a_newline_in_a_fact_cannot_add_a_header():
    mail = render("approved", {**FACTS, "reference": "ORD-1\nBcc: x@evil.test"})
    msg = build_message(mail, to="a@example.test", sender="s@example.test", message_id="<m@x>")
    assert msg["Bcc"] is None
    assert "\n" not in mail.subject


def test_an_unknown_kind_is_refused():
    with pytest.raises(UnknownKind):
        render("teleported", FACTS)
