"""NATS URLs carry a service's credentials: never shown, and they name the reply inbox; their
scheme says whether the broker is reached over mutual TLS."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel_runtime.events.connection import (
    NatsTlsError,
    _inbox_prefix,
    redact_url,
    tls_options,
    uses_tls,
)
from keel_runtime.tls import TlsSettings


def test_passwords_never_show() -> None:
    assert redact_url("nats://billing:s3cret@nats:4222") == "nats://billing:***@nats:4222"
    assert (
        redact_url("nats://a:p1@n1:4222, nats://n2:4222") == "nats://a:***@n1:4222,nats://n2:4222"
    )
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_replies_arrive_on_the_users_own_inbox() -> None:
    assert _inbox_prefix("nats://billing:s3cret@nats:4222") == "_INBOX_billing"
    assert _inbox_prefix("nats://nats:4222") == b"_INBOX"


def test_the_url_scheme_decides_tls() -> None:
    tls = TlsSettings(Path("c.pem"), Path("k.pem"), Path("ca.pem"))
    assert tls_options("nats://billing:s3cret@nats:4222", tls) == {}  # plaintext as asked
    assert not uses_tls("nats://n1:4222,nats://n2:4222")
    assert uses_tls("tls://n1:4222, tls://n2:4222")


def test_a_tls_url_without_a_certificate_is_refused_not_left_unverified() -> None:
    with pytest.raises(NatsTlsError, match=r"tls:// but no client certificate") as refused:
        tls_options("tls://billing:s3cret@nats:4222", None)
    assert "s3cret" not in str(refused.value)


def test_a_url_mixing_tls_and_plaintext_servers_is_refused() -> None:
    with pytest.raises(NatsTlsError, match=r"every server must be tls://"):
        uses_tls("tls://n1:4222,nats://n2:4222")
