"""`make demo` walks the slice against the mesh and says clearly when it cannot."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from keel_devstack import demo
from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e


def test_demo_walk_succeeds_against_the_mesh(mesh: Endpoints) -> None:
    assert mesh.gateway_url
    out = io.StringIO()

    result = demo.walk(mesh.gateway_url, out=out)

    assert len(result.steps) == 9, result.steps
    assert result.org_id and result.wallet_account_id and result.subscription_id
    assert result.item_id
    transcript = out.getvalue()
    assert "POST /v1/organizations" in transcript
    assert "buf curl" in transcript
    # Tokens are shortened in the transcript.
    assert result.access_token not in transcript


def test_demo_command_reads_stack_json(
    mesh: Endpoints, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "stack.json"
    state.write_text(mesh.to_json())

    assert demo.main(["--state", str(state)]) == 0

    assert "demo OK" in capsys.readouterr().out


def test_demo_without_a_running_stack_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.main(["--state", str(tmp_path / "absent.json")]) == 1

    out = capsys.readouterr().out
    assert "not found" in out and "make run" in out


def test_demo_names_the_step_that_misbehaves(mesh: Endpoints) -> None:
    # Envoy's admin port is no gateway: sign-up gets a non-JSON 404.
    assert mesh.envoy_admin_url
    with pytest.raises(demo.StepFailed, match=r"step 1 \(Sign up"):
        demo.walk(mesh.envoy_admin_url, out=io.StringIO())


def test_demo_without_a_reachable_gateway_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "stack.json"
    state.write_text('{"gateway_url": "http://127.0.0.1:9", "services": {}}')

    assert demo.main(["--state", str(state)]) == 1

    assert "cannot reach the gateway" in capsys.readouterr().out
