"""The docs work: the bash blocks of docs/operators.md and of the README's walkthrough run,
in order, against a real stack, reading its addresses as `make -s env` prints them."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from keel_devstack.stack import Endpoints, repo_root

pytestmark = pytest.mark.e2e

GUIDE = repo_root() / "docs" / "operators.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_guide_has_commands_for_every_topic() -> None:
    text = GUIDE.read_text()
    for heading in (
        "## Health",
        "## Metrics",
        "## Logs",
        "## Traces",
        "## Events",
        "## Migrations",
    ):
        section = text.split(heading, 1)[1].split("\n## ", 1)[0]
        assert BLOCK.search(section), f"{heading} shows no command"


def _run_blocks(blocks: list[str], mesh: Endpoints, tmp_path: Path) -> str:
    state = tmp_path / "stack.json"
    state.write_text(json.dumps(dataclasses.asdict(mesh)))
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env["KEEL_STACK_STATE"] = str(state)
    done = subprocess.run(
        ["bash", "-c", script], cwd=repo_root(), env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_command_of_the_guide_runs(mesh: Endpoints, tmp_path: Path) -> None:
    out = _run_blocks(BLOCK.findall(GUIDE.read_text()), mesh, tmp_path)
    assert f"gateway {mesh.gateway_url}, identity {mesh.services['identity']}" in out
    assert out.count('"status": "SERVING"') == 4, out
    assert "keel.ledger.v1.AccountService/GetAccount" in out
    assert "keel_health_serving" in out
    assert "republished" in out
    assert "may not present a user's token" in out  # the operator carrying a user's token
    assert "revoked; each is forgotten" in out  # the revocation bucket, as the services see it
    # The sign-up's trace: the gateway's span, identity's call under it and the event it
    # published (the consumers' spans follow; tests/e2e/test_traces.py waits for those).
    assert re.search(r"gateway +server +POST /keel\.identity\.v1\.OrganizationService/", out), out
    assert re.search(r"identity +server +keel\.identity\.v1\.OrganizationService/", out), out
    assert "publish identity.organization.created" in out
    # Without a password NATS refuses the dead-letter command; without a certificate the
    # command refuses to connect at all.
    assert "Authorization Violation" in out and "refused: exit status 1" in out
    assert "tls:// but no client certificate is configured" in out


def test_the_readme_walkthrough_runs(mesh: Endpoints, tmp_path: Path) -> None:
    readme = (repo_root() / "README.md").read_text()
    blocks = [block for block in BLOCK.findall(readme) if "$KEEL_" in block]
    assert blocks and blocks[0].startswith('eval "$(make -s env)"'), blocks[:1]
    out = _run_blocks(blocks, mesh, tmp_path)
    assert '"INVALID_CREDENTIALS"' in out  # the wrong password
    assert "needs the items:write scope" in out  # the read-only key creating an item
    assert '"status": "SERVING"' in out
