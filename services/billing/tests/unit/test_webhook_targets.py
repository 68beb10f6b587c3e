"""The SSRF guard's rules: which addresses and URLs billing refuses to call."""

from __future__ import annotations

import pytest

from billing.adapters.webhook_targets import WebhookTargets
from billing.domain.errors import WebhookUrlRefused
from billing.domain.webhook import address_refusal

from .conftest import PUBLIC_ADDRESS, public_dns


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation
        (PUBLIC_ADDRESS, ""),
        ("2606:2800:220:1:248:1893:25c8:1946", ""),
    ],
)
def test_address_refusal(address: str, why: str) -> None:
    assert address_refusal(address) == why


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/hook",
        "https://[fc00::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://224.0.0.1/hook",
        "https://0.0.0.0/hook",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "http://hooks.example/hook",  # plain http
        "ftp://hooks.example/hook",
    ],
)
async def test_refused_at_creation(url: str) -> None:
    with pytest.raises(WebhookUrlRefused):
        await WebhookTargets(resolver=public_dns).check(url)


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    async def inward(host: str, port: int) -> list[str]:
        return [PUBLIC_ADDRESS, "10.0.0.7"]  # one bad answer is enough

    with pytest.raises(WebhookUrlRefused) as raised:
        await WebhookTargets(resolver=inward).check("https://hooks.example/x")
    assert raised.value.metadata["why"] == "private"
    assert "10.0.0.7" not in str(raised.value)  # no map of the internal network


async def test_allowed_hosts_pass_over_http_too() -> None:
    targets = WebhookTargets(["127.0.0.1", "LocalHost"], resolver=public_dns)
    await targets.check("http://127.0.0.1:8080/hook")
    await targets.check("http://localhost:8080/hook")


async def test_a_delivery_is_pinned_to_the_address_checked() -> None:
    target = await WebhookTargets(resolver=public_dns).pin("https://hooks.example:8443/a?b=1")
    assert target.url == f"https://{PUBLIC_ADDRESS}:8443/a?b=1"
    assert target.host_header == "hooks.example:8443"
    assert target.server_name == "hooks.example"


async def test_an_unresolvable_name_is_accepted_at_creation_but_not_sent_to() -> None:
    async def nothing(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    targets = WebhookTargets(resolver=nothing)
    await targets.check("https://not-yet.example/hook")
    with pytest.raises(WebhookUrlRefused):
        await targets.pin("https://not-yet.example/hook")
