"""The operator commands' client certificate for a ``tls://`` NATS URL.

The same three flags as curl, grpcurl and ``buf curl`` (``--cacert``, ``--cert``, ``--key``),
so one shell array serves them all; unset flags fall back to ``TLS_CA_FILE``,
``TLS_CERT_FILE`` and ``TLS_KEY_FILE``, the variables every Keel process reads its
certificate from.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from keel_runtime.tls import TlsSettings

FLAGS = (("--cacert", "TLS_CA_FILE"), ("--cert", "TLS_CERT_FILE"), ("--key", "TLS_KEY_FILE"))


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "TLS", "for a tls:// NATS URL: the mesh CA and the operator's certificate and key"
    )
    for flag, variable in FLAGS:
        group.add_argument(flag, type=Path, default=os.environ.get(variable), help=f"(${variable})")


def tls_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> TlsSettings | None:
    """All three files, or None when none is given; one or two alone is a usage error."""
    given = {flag: getattr(args, flag.lstrip("-")) for flag, _ in FLAGS}
    if not any(given.values()):
        return None
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        parser.error(
            f"{', '.join(missing)} required with {', '.join(sorted(set(given) - set(missing)))}"
        )
    return TlsSettings(
        cert_file=Path(given["--cert"]),
        key_file=Path(given["--key"]),
        ca_file=Path(given["--cacert"]),
    )
