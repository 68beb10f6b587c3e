"""Who may do what on NATS: one user per service, an operator, and their subject permissions.

This table is the one place the permissions are written down; the embedded server's config
(keel_devstack) and the Kubernetes NATS config (deploy/render_nats.py) are both rendered from
it. A service may publish only its own events (``<service>.>``) and manage only its own
stream, its own durable consumers, their dead-letter subjects and their keys in the attempts
bucket; it receives only replies on its own inbox prefix, so it never sees another service's
pulled messages or JetStream answers. The operator (replay, dead-letter redrive, tests) may do
everything: redrive republishes any service's events and replay manages any stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keel_runtime.events.attempts import BUCKET
from keel_runtime.events.streams import DEAD_LETTER_STREAM

OPERATOR = "operator"
"""The platform operator's NATS user: the replay and dead-letter commands, and the tests."""

JS_API = "$JS.API"


@dataclass(frozen=True)
class Consumes:
    """A durable pull consumer a service runs on a producer's stream."""

    stream: str
    """The producer's stream, e.g. ``IDENTITY``."""
    consumer: str
    """The durable name, e.g. ``ledger-open-wallet``; its dead letters go to ``dlq.<consumer>``."""


# Read from each service's events/subscribers.py (and items' enrichment worker); a test in
# tests/contract compares this with the subscriptions the services build.
SERVICES: Mapping[str, tuple[Consumes, ...]] = {
    "identity": (),
    "ledger": (Consumes("IDENTITY", "ledger-open-wallet"),),
    "items": (Consumes("ITEMS", "items-enrich"), Consumes("ITEMS", "items-enrich-retry")),
    "billing": (
        Consumes("IDENTITY", "billing-start-subscription"),
        Consumes("ITEMS", "billing-item-usage"),
        Consumes("BILLING", "billing-webhooks"),
    ),
}


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def inbox_prefix(user: str) -> str:
    """Replies to ``user``'s requests arrive under this prefix, which only it may subscribe to."""
    return f"_INBOX_{user}"


def _stream_api(stream: str, *, own: bool) -> list[str]:
    # Declaring a stream is info then create; only its owner may change it afterwards (a
    # consumer declares the producer's stream too, so that either may start first).
    verbs = ("INFO", "CREATE", "UPDATE") if own else ("INFO", "CREATE")
    return [f"{JS_API}.STREAM.{verb}.{stream}" for verb in verbs]


def _consumer_api(stream: str, consumer: str) -> list[str]:
    return [
        f"{JS_API}.CONSUMER.INFO.{stream}.{consumer}",
        f"{JS_API}.CONSUMER.CREATE.{stream}.{consumer}",
        f"{JS_API}.CONSUMER.CREATE.{stream}.{consumer}.>",
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
        f"$JS.ACK.{stream}.{consumer}.>",
        f"dlq.{consumer}",
        f"$KV.{BUCKET}.{consumer}.>",
    ]


def service_permissions(service: str) -> Permissions:
    """What ``service`` may publish and subscribe to; KeyError for a service not in the table."""
    consumes = SERVICES[service]
    # $JS.API.INFO: the readiness probe asks whether JetStream answers (keel_runtime.health).
    publish = [f"{service}.>", f"{JS_API}.INFO", *_stream_api(service.upper(), own=True)]
    if consumes:
        publish += _stream_api(DEAD_LETTER_STREAM.name, own=False)
        publish += _stream_api(f"KV_{BUCKET}", own=False)
        # A key's read names the key in the request body, not the subject: this one permission
        # lets a service read other consumers' attempt counts, never write them.
        publish.append(f"{JS_API}.STREAM.MSG.GET.KV_{BUCKET}")
    for stream in sorted({c.stream for c in consumes} - {service.upper()}):
        publish += _stream_api(stream, own=False)
    for consumes_one in consumes:
        publish += _consumer_api(consumes_one.stream, consumes_one.consumer)
    return Permissions(publish=tuple(publish), subscribe=(f"{inbox_prefix(service)}.>",))


def users() -> list[str]:
    """Every NATS user: the services, then the operator."""
    return [*SERVICES, OPERATOR]


def render_authorization(passwords: Mapping[str, str]) -> str:
    """The nats-server ``authorization`` block for every user in ``users()``.

    ``passwords`` maps each user to its password as written in the config: a quoted bcrypt
    hash, or a ``$VARIABLE`` the server reads from its environment. With users listed and no
    ``no_auth_user``, a client without credentials is refused.
    """
    lines = ["authorization {", "  users: ["]
    for user in users():
        lines.append(f"    {{user: {user}, password: {passwords[user]}")
        if user == OPERATOR:
            lines.append('      permissions: {publish: ">", subscribe: ">"}')
        else:
            allowed = service_permissions(user)
            lines.append("      permissions: {")
            lines.append(f"        publish: {_quoted(allowed.publish)}")
            lines.append(f"        subscribe: {_quoted(allowed.subscribe)}")
            lines.append("      }")
        lines.append("    }")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def _quoted(subjects: tuple[str, ...]) -> str:
    # One subject a line: the rendered config is read (and reviewed) by people.
    return "[\n" + "".join(f'          "{subject}"\n' for subject in subjects) + "        ]"
