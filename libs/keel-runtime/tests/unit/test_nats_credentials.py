"""NATS URLs carry a service's credentials: never shown, and they name the reply inbox."""

from __future__ import annotations

from keel_runtime.events.connection import _inbox_prefix, redact_url


def test_passwords_never_show() -> None:
    assert redact_url("nats://billing:s3cret@nats:4222") == "nats://billing:***@nats:4222"
    assert (
        redact_url("nats://a:p1@n1:4222, nats://n2:4222") == "nats://a:***@n1:4222,nats://n2:4222"
    )
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_replies_arrive_on_the_users_own_inbox() -> None:
    assert _inbox_prefix("nats://billing:s3cret@nats:4222") == "_INBOX_billing"
    assert _inbox_prefix("nats://nats:4222") == b"_INBOX"
