"""`make demo`: walk sign-up → login → events → reads → errors through a running mesh."""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx

from keel_devstack.shell_env import default_state_path, read_state

T = TypeVar("T")
Json = dict[str, Any]

PASSWORD = "correct horse battery staple"
# Claims every access token carries (the walking skeleton promises them).
TOKEN_CLAIMS = ("iss", "aud", "sub", "org", "roles", "exp", "jti")
# An access token is short-lived: anything longer than this is a failure of the walk.
MAX_TOKEN_SECONDS = 3600
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
REQUEST_INFO = "type.googleapis.com/google.rpc.RequestInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
# Item states a freshly created item may show: the worker may already have enriched it.
ITEM_STATES_AFTER_CREATE = {
    "ITEM_STATE_ENRICHING",
    "ITEM_STATE_READY_TO_CONFIRM",
    "ITEM_STATE_FAILED",
}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


class StepFailed(Exception):
    """A step of the walk did not behave as the walking skeleton promises."""


@dataclass
class WalkResult:
    """What the walk created, for callers that look further (tests)."""

    org_id: str = ""
    user_id: str = ""
    email: str = ""
    access_token: str = ""
    wallet_account_id: str = ""
    subscription_id: str = ""
    item_id: str = ""
    steps: list[str] = field(default_factory=list)


# -- printing ------------------------------------------------------------------------------


def shorten(value: str) -> str:
    """Tokens are long and secret-ish: keep the ends so they stay recognisable."""
    return value if len(value) <= 24 else f"{value[:12]}…{value[-6:]}"


def _is_token_key(key: str) -> bool:
    return key.lower().endswith("token") and key not in {"pageToken", "nextPageToken"}


def redact(value: Any) -> Any:
    """A copy of a JSON value with token-valued fields shortened."""
    if isinstance(value, dict):
        return {
            key: shorten(item) if isinstance(item, str) and _is_token_key(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


class Printer:
    """Readable request/response transcript on one stream."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def block(self, value: Any, indent: str = "    ") -> None:
        text = json.dumps(redact(value), indent=2, ensure_ascii=False)
        self.line("\n".join(indent + row for row in text.splitlines()))

    def step(self, number: int, title: str) -> None:
        self.line()
        self.line(f"── {number}. {title}")


# -- HTTP through the gateway ----------------------------------------------------------------


@dataclass
class Reply:
    """One REST answer: status and parsed JSON body (None if it was not JSON)."""

    status: int
    body: Json | None
    text: str
    request_id: str


class Client:
    """Calls the gateway, prints each exchange, and checks the HTTP status."""

    def __init__(self, gateway_url: str, printer: Printer) -> None:
        self.http = httpx.Client(base_url=gateway_url, timeout=10.0)
        self.printer = printer

    def close(self) -> None:
        self.http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        raw: str | None = None,
        token: str | None = None,
        quiet: bool = False,
    ) -> Reply:
        request_id = f"demo-{uuid.uuid4().hex[:12]}"
        headers = {"x-request-id": request_id}
        if token:
            headers["authorization"] = f"Bearer {token}"
        content = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if content is not None:
            headers["content-type"] = "application/json"
        if not quiet:
            auth = f"  (Authorization: Bearer {shorten(token)})" if token else ""
            self.printer.line(f"  → {method} {path}{auth}  x-request-id: {request_id}")
            if body is not None:
                self.printer.block(body)
            elif raw is not None:
                self.printer.line(f"    {raw}")
        response = self.http.request(method, path, content=content, headers=headers)
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        reply = Reply(
            response.status_code,
            parsed if isinstance(parsed, dict) else None,
            response.text,
            request_id,
        )
        if not quiet:
            self.show(reply)
        return reply

    def show(self, reply: Reply) -> None:
        phrase = httpx.codes.get_reason_phrase(reply.status)
        self.printer.line(f"  ← {reply.status} {phrase}")
        if reply.body is not None:
            self.printer.block(reply.body)
        elif reply.text:
            self.printer.line(f"    {reply.text[:500]}")

    def expect(self, reply: Reply, status: int, what: str) -> Json:
        if reply.status != status or reply.body is None:
            raise StepFailed(
                f"{what}: expected HTTP {status} with a JSON body,"
                f" got {reply.status}: {reply.text[:500]}"
            )
        return reply.body


def poll(
    probe: Callable[[], T | None], *, what: str, timeout: float = 15.0, interval: float = 0.1
) -> tuple[T, float]:
    """Call `probe` until it returns something; (value, seconds waited) or StepFailed."""
    began = time.monotonic()
    deadline = began + timeout
    while True:
        value = probe()
        if value is not None:
            return value, time.monotonic() - began
        if time.monotonic() >= deadline:
            raise StepFailed(f"{what}: nothing after {timeout:.0f}s")
        time.sleep(interval)


def jwt_part(token: str, index: int) -> Json:
    """Header (0) or claims (1) of a JWT, unverified: the gateway verifies, the demo shows."""
    try:
        segment = token.split(".")[index]
        part = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError) as exc:
        raise StepFailed(f"access token is not a JWT: {shorten(token)}") from exc
    if not isinstance(part, dict):
        raise StepFailed("access token part is not a JSON object")
    return part


def error_details(body: Json) -> tuple[Json, Json, list[Json]]:
    """(ErrorInfo, RequestInfo, all details) of a google.rpc.Status body, or StepFailed."""
    if not isinstance(body.get("code"), int) or not isinstance(body.get("message"), str):
        raise StepFailed(f"not a google.rpc.Status (code, message): {body}")
    details = body.get("details") or []
    by_type = {detail.get("@type"): detail for detail in details if isinstance(detail, dict)}
    if ERROR_INFO not in by_type or REQUEST_INFO not in by_type:
        raise StepFailed(f"google.rpc.Status without ErrorInfo and RequestInfo: {body}")
    return by_type[ERROR_INFO], by_type[REQUEST_INFO], details


def check_error(
    client: Client, reply: Reply, *, status: int, code: int, reason: str | None, what: str
) -> Json:
    """A JSON google.rpc.Status with the right HTTP status, gRPC code, reason and request id."""
    body = client.expect(reply, status, what)
    info, request_info, _ = error_details(body)
    if body["code"] != code:
        raise StepFailed(f"{what}: expected gRPC code {code}, got {body['code']}")
    if reason is not None and info.get("reason") != reason:
        raise StepFailed(f"{what}: expected reason {reason}, got {info.get('reason')!r}")
    if request_info.get("requestId") != reply.request_id:
        raise StepFailed(
            f"{what}: RequestInfo.requestId is {request_info.get('requestId')!r},"
            f" not the x-request-id sent ({reply.request_id})"
        )
    return body


# -- the walk --------------------------------------------------------------------------------


class Walk:
    """The walking skeleton, step by step; each step raises StepFailed when it misbehaves."""

    def __init__(self, client: Client, printer: Printer, buf: str | None) -> None:
        self.client = client
        self.printer = printer
        self.buf = buf
        self.result = WalkResult()
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        self.result.steps.append(title)
        self.printer.step(self.number, title)

    def run(self, gateway_url: str) -> WalkResult:
        steps: list[Callable[[], None]] = [
            self.sign_up,
            self.login,
            self.read_organization_and_user,
            self.wallet,
            self.subscription,
            self.billing_overview,
            self.item,
            self.errors,
            lambda: self.grpc_call(gateway_url),
        ]
        for step in steps:
            try:
                step()
            except StepFailed as exc:
                raise StepFailed(f"step {self.number} ({self.result.steps[-1]}): {exc}") from exc
        return self.result

    def sign_up(self) -> None:
        self.step("Sign up: an organization and its owner (public)")
        email = f"owner-{uuid.uuid4().hex[:10]}@demo.keel.test"
        body = {
            "requestId": str(uuid.uuid4()),
            "displayName": "Demo Org",
            "ownerEmail": email,
            "ownerDisplayName": "Demo Owner",
            "ownerPassword": PASSWORD,
        }
        reply = self.client.send("POST", "/v1/organizations", body=body)
        created = self.client.expect(reply, 200, "sign-up")
        org_id = created.get("organization", {}).get("organizationId")
        owner = created.get("owner", {})
        if not org_id or owner.get("organizationId") != org_id:
            raise StepFailed(f"sign-up: no organization id, or owner not in it: {created}")
        if "ROLE_OWNER" not in owner.get("roles", []):
            raise StepFailed(f"sign-up: the owner lacks ROLE_OWNER: {owner}")
        self.result.org_id, self.result.user_id, self.result.email = org_id, owner["userId"], email

    def login(self) -> None:
        self.step("Log in: a short-lived EdDSA access token and a refresh token")
        body = {"email": self.result.email, "password": PASSWORD}
        reply = self.client.send("POST", "/v1/sessions", body=body)
        grant = self.client.expect(reply, 200, "login").get("grant", {})
        token, refresh = grant.get("accessToken", ""), grant.get("refreshToken", "")
        if not token or not refresh:
            raise StepFailed(f"login: no access or refresh token in {grant}")
        header, claims = jwt_part(token, 0), jwt_part(token, 1)
        if header.get("alg") != "EdDSA" or not header.get("kid"):
            raise StepFailed(f"login: expected an EdDSA token with a key id, header {header}")
        missing = [claim for claim in TOKEN_CLAIMS if claim not in claims]
        if missing:
            raise StepFailed(f"login: access token lacks claims {missing}: {claims}")
        lifetime = float(claims["exp"]) - time.time()
        if not 0 < lifetime <= MAX_TOKEN_SECONDS:
            raise StepFailed(f"login: access token expires in {lifetime:.0f}s, not short-lived")
        if claims["sub"] != self.result.user_id or claims["org"] != self.result.org_id:
            raise StepFailed(f"login: token sub/org do not match the sign-up: {claims}")
        self.printer.line("  access token claims:")
        self.printer.block(claims)
        self.result.access_token = token

    def read_organization_and_user(self) -> None:
        self.step("Read the organization and the current user with the token")
        token = self.result.access_token
        reply = self.client.send("GET", f"/v1/organizations/{self.result.org_id}", token=token)
        org = self.client.expect(reply, 200, "get organization").get("organization", {})
        if org.get("organizationId") != self.result.org_id:
            raise StepFailed(f"get organization: another organization came back: {org}")
        reply = self.client.send("GET", "/v1/users/me", token=token)
        user = self.client.expect(reply, 200, "current user").get("user", {})
        if user.get("userId") != self.result.user_id or user.get("email") != self.result.email:
            raise StepFailed(f"current user: expected the owner, got {user}")

    def wallet(self) -> None:
        self.step("Ledger opened the wallet (identity.organization.created → ledger)")
        token = self.result.access_token

        def probe() -> list[Json] | None:
            reply = self.client.send("GET", "/v1/accounts", token=token, quiet=True)
            accounts = (reply.body or {}).get("accounts") or []
            wallets = [a for a in accounts if a.get("kind") == "ACCOUNT_KIND_WALLET"]
            return wallets or None

        _, waited = poll(probe, what="wallet account")
        self.printer.line(f"  (appeared after {waited:.2f}s of polling)")
        reply = self.client.send("GET", "/v1/accounts", token=token)
        accounts = self.client.expect(reply, 200, "list accounts").get("accounts", [])
        wallets = [a for a in accounts if a.get("kind") == "ACCOUNT_KIND_WALLET"]
        if len(wallets) != 1 or wallets[0].get("organizationId") != self.result.org_id:
            raise StepFailed(f"expected exactly one wallet of this organization, got {accounts}")
        account_id = wallets[0]["accountId"]
        reply = self.client.send("GET", f"/v1/accounts/{account_id}/balance", token=token)
        balance = self.client.expect(reply, 200, "wallet balance").get("balance", {})
        amounts = [balance.get(k) for k in ("debitsPosted", "creditsPosted", "available")]
        if any(str(amount) != "0" for amount in amounts):
            raise StepFailed(f"a new wallet should hold zero, got {balance}")
        self.result.wallet_account_id = account_id

    def subscription(self) -> None:
        self.step("Billing started the default subscription (identity.organization.created)")
        token = self.result.access_token

        def probe() -> list[Json] | None:
            reply = self.client.send("GET", "/v1/subscriptions", token=token, quiet=True)
            return (reply.body or {}).get("subscriptions") or None

        _, waited = poll(probe, what="default subscription")
        self.printer.line(f"  (appeared after {waited:.2f}s of polling)")
        reply = self.client.send("GET", "/v1/subscriptions", token=token)
        subscriptions = self.client.expect(reply, 200, "list subscriptions")["subscriptions"]
        if len(subscriptions) != 1 or subscriptions[0].get("state") != "SUBSCRIPTION_STATE_ACTIVE":
            raise StepFailed(f"expected one active subscription, got {subscriptions}")
        subscription_id = subscriptions[0]["subscriptionId"]
        reply = self.client.send("GET", f"/v1/subscriptions/{subscription_id}", token=token)
        got = self.client.expect(reply, 200, "get subscription").get("subscription", {})
        if got.get("organizationId") != self.result.org_id:
            raise StepFailed(f"subscription of another organization: {got}")
        self.result.subscription_id = subscription_id

    def billing_overview(self) -> None:
        self.step("Billing overview: billing reads the wallet from ledger over gRPC")
        reply = self.client.send("GET", "/v1/billing/overview", token=self.result.access_token)
        overview = self.client.expect(reply, 200, "billing overview").get("overview", {})
        if overview.get("walletAccountId") != self.result.wallet_account_id:
            raise StepFailed(f"overview names another wallet: {overview}")
        if str(overview.get("walletBalance", {}).get("amount")) != "0":
            raise StepFailed(f"overview wallet balance is not zero: {overview}")

    def item(self) -> None:
        self.step("Create an item and read it back")
        token = self.result.access_token
        body = {"requestId": str(uuid.uuid4()), "url": "https://example.com/keel"}
        reply = self.client.send("POST", "/v1/items", body=body, token=token)
        item = self.client.expect(reply, 200, "create item").get("item", {})
        if not item.get("itemId") or item.get("state") not in ITEM_STATES_AFTER_CREATE:
            raise StepFailed(f"create item: unexpected item {item}")
        reply = self.client.send("GET", f"/v1/items/{item['itemId']}", token=token)
        got = self.client.expect(reply, 200, "get item").get("item", {})
        if got.get("itemId") != item["itemId"] or got.get("state") not in ITEM_STATES_AFTER_CREATE:
            raise StepFailed(f"get item: unexpected item {got}")
        self.result.item_id = item["itemId"]

    def errors(self) -> None:
        self.step("Errors are JSON google.rpc.Status with ErrorInfo and the request id")
        client, token = self.client, self.result.access_token
        wrong = {"email": self.result.email, "password": "not the password"}
        check_error(
            client,
            client.send("POST", "/v1/sessions", body=wrong),
            status=401,
            code=16,
            reason="INVALID_CREDENTIALS",
            what="wrong password",
        )
        check_error(
            client,
            client.send("GET", f"/v1/items/{MISSING_ID}", token=token),
            status=404,
            code=5,
            reason="ITEM_NOT_FOUND",
            what="missing item",
        )
        body = check_error(
            client,
            client.send("POST", "/v1/items", body={"url": "not a url"}, token=token),
            status=400,
            code=3,
            reason=None,
            what="invalid input",
        )
        if not any(d.get("@type") == BAD_REQUEST for d in body.get("details", [])):
            raise StepFailed(f"invalid input: no google.rpc.BadRequest field violations: {body}")
        check_error(
            client,
            client.send("POST", "/v1/sessions", raw="{not json"),
            status=400,
            code=3,
            reason=None,
            what="malformed JSON",
        )
        check_error(
            client,
            client.send("GET", "/v1/users/me"),
            status=401,
            code=16,
            reason=None,
            what="missing token",
        )
        check_error(
            client,
            client.send("GET", "/v1/no-such-route", token=token),
            status=404,
            code=5,
            reason=None,
            what="unknown route",
        )

    def grpc_call(self, gateway_url: str) -> None:
        self.step("The same token over native gRPC through the gateway (buf curl)")
        if self.buf is None:
            raise StepFailed("buf not found (expected .venv/bin/buf; run `make install`)")
        target = f"{gateway_url}/keel.identity.v1.UserService/GetCurrentUser"
        argv = [self.buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect"]
        shown = [_relative(self.buf), *argv[1:]]
        shown += ["-H", f"'Authorization: Bearer {shorten(self.result.access_token)}'"]
        self.printer.line("  $ " + " ".join([*shown, target]))
        argv += ["-H", f"Authorization: Bearer {self.result.access_token}", target]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        output = (done.stdout or done.stderr).strip()
        self.printer.line("\n".join("    " + row for row in output.splitlines()))
        if done.returncode != 0:
            raise StepFailed(f"buf curl exited with {done.returncode}: {done.stderr.strip()}")
        try:
            user = json.loads(done.stdout).get("user", {})
        except ValueError as exc:
            raise StepFailed(f"buf curl printed no JSON: {done.stdout!r}") from exc
        if user.get("userId") != self.result.user_id:
            raise StepFailed(f"buf curl: expected the owner, got {user}")


def _relative(path: str) -> str:
    """A path as a reader would type it from here (.venv/bin/buf), else as it is."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def find_buf() -> str | None:
    """The buf installed next to this interpreter (.venv/bin), else one on PATH."""
    beside = Path(sys.executable).parent / "buf"
    return str(beside) if beside.exists() else shutil.which("buf")


def walk(gateway_url: str, *, out: TextIO | None = None, buf: str | None = None) -> WalkResult:
    """Walk the slice against a gateway; StepFailed names the first step that misbehaved."""
    printer = Printer(out if out is not None else sys.stdout)
    client = Client(gateway_url, printer)
    try:
        return Walk(client, printer, buf if buf is not None else find_buf()).run(gateway_url)
    finally:
        client.close()


# -- command line ----------------------------------------------------------------------------


def load_state(path: Path) -> Mapping[str, Any]:
    """var/run/stack.json as written by `make run`; StepFailed with a hint if it is unusable."""
    try:
        state = read_state(path)
    except (OSError, ValueError) as exc:
        raise StepFailed(str(exc)) from exc
    if not state.get("gateway_url"):
        raise StepFailed(f"{path} names no gateway: is the gateway part of `make run`?")
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel_devstack.demo", description=__doc__)
    parser.add_argument(
        "--state", type=Path, default=default_state_path(), help="stack.json to read"
    )
    args = parser.parse_args(argv)
    printer = Printer(sys.stdout)
    began = time.monotonic()
    try:
        state = load_state(args.state)
        printer.line(f"Keel demo against {state['gateway_url']}")
        for name, target in sorted(state.get("services", {}).items()):
            printer.line(f"  {name:<9} grpc {target}")
        result = walk(state["gateway_url"], out=sys.stdout)
    except StepFailed as exc:
        printer.line(f"\ndemo FAILED: {exc}")
        return 1
    except httpx.HTTPError as exc:
        printer.line(f"\ndemo FAILED: cannot reach the gateway ({exc}); is `make run` up?")
        return 1
    printer.line()
    for title in result.steps:
        printer.line(f"  ✓ {title}")
    printer.line(
        f"\ndemo OK: {len(result.steps)} steps in {time.monotonic() - began:.1f}s"
        f" (organization {result.org_id})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
