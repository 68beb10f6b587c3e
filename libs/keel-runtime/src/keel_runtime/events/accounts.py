"""Who may do what on NATS: one user per service, an operator, and their subject permissions.

This table is the one place the permissions are written down; the embedded server's config
(keel_devstack) and the Kubernetes NATS config (deploy/render_nats.py) are both rendered from
it. A service may publish only its own events (``<service>.>``) and manage only its own
stream, its own durable consumers, their dead-letter subjects and their keys in the attempts
bucket; it receives only replies on its own inbox prefix, so it never sees another service's
pulled messages or JetStream answers. Every service may watch the revocation bucket (read
only); identity alone declares and writes it (``keel_runtime.events.revocation_bucket``). The
operator (replay, dead-letter redrive, tests) may do
everything: redrive republishes any service's events and replay manages any stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keel_runtime.events.attempts import BUCKET
from keel_runtime.events.streams import DEAD_LETTER_STREAM
from keel_runtime.revocation import BUCKET as REVOCATIONS

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
    "identity": (Consumes("IDENTITY", "identity-revocations"),),
    "ledger": (Consumes("IDENTITY", "ledger-open-wallet"),),
    "items": (Consumes("ITEMS", "items-enrich"), Consumes("ITEMS", "items-enrich-retry")),
    "billing": (
        Consumes("IDENTITY", "billing-start-subscription"),
        Consumes("ITEMS", "billing-item-usage"),
    ),
}


REVOCATIONS_WRITER = "identity"
"""The one service that declares and writes the revocation bucket."""


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


def _revocation_watch_api() -> list[str]:
    # What nats.py's key-value watch sends: the bucket's stream info, an ephemeral ordered
    # push consumer (created without a name; info on it by its server-made name) delivering
    # to the service's own inbox, and the flow-control answers that push consumer asks for.
    # No write, purge, delete or config change: a service cannot lift a revocation.
    stream = f"KV_{REVOCATIONS}"
    return [
        f"{JS_API}.STREAM.INFO.{stream}",
        f"{JS_API}.CONSUMER.CREATE.{stream}",
        f"{JS_API}.CONSUMER.INFO.{stream}.*",
        f"$JS.FC.{stream}.>",
    ]


def _revocation_write_api() -> list[str]:
    # Declares the bucket (create, then max_age/replicas updates) and compares-and-sets keys.
    stream = f"KV_{REVOCATIONS}"
    return [
        f"{JS_API}.STREAM.CREATE.{stream}",
        f"{JS_API}.STREAM.UPDATE.{stream}",
        f"{JS_API}.STREAM.MSG.GET.{stream}",
        f"$KV.{REVOCATIONS}.>",
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
    publish += _revocation_watch_api()
    if service == REVOCATIONS_WRITER:
        publish += _revocation_write_api()
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
