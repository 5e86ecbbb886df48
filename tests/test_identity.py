"""Identity: verified email (outbox and real SMTP), password reset and change, signed-in devices, and Firebase sign-in."""

import asyncio
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from email import message_from_bytes, policy
from urllib.parse import unquote

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import connect, login, post, register, unique_email
from tests.money import Pushes, eventually, ok
from tests.servers import RUNNING, ServerProcess, free_port

PROJECT = "marketplace-test"


class Inbox:
    """A real SMTP server (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list:
        return [mail for mail in self.messages if mail["To"] == address]

    def restart(self) -> None:
        """Up again on the same port (a controller cannot be started twice)."""
        self.controller = Controller(self, hostname="127.0.0.1", port=self.controller.port)
        self.controller.start()


@pytest.fixture
def inbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


def _token_in(mail) -> str:
    found = re.search(r"token=([A-Za-z0-9_\-%]+)|\n\n([A-Za-z0-9_\-]{40,})\n\n", mail.get_content())
    return unquote(found.group(1) or found.group(2))


async def test_a_newcomer_finds_the_verification_email_in_the_outbox_and_the_link_verifies_once(own_server):
    server = own_server()
    account = await register(server.url)
    email = account["user"]["email"]
    socket = await connect(server.url, account["accessToken"])
    updated = Pushes(socket, "me:updated")
    assert (await ok(socket, "me:get"))["user"]["emailVerified"] is False
    [mail] = await eventually(lambda: server.outbox(email), bool)
    assert mail["Subject"] == "Confirm your email address" and mail["From"]
    link = re.search(r"(http\S+/api/auth/verify-email\?token=\S+)", mail.get_content()).group(1)
    token = unquote(link.split("token=")[1])
    async with aiohttp.ClientSession() as http:
        async with http.get(link.replace("http://localhost:8080", server.url)) as response:
            assert response.status == 200 and "Email verified" in await response.text()
        async with http.get(link.replace("http://localhost:8080", server.url)) as response:
            assert "expired" in await response.text()
    assert (await updated.next("me:updated"))["user"]["emailVerified"] is True
    assert (await ok(socket, "me:get"))["user"]["emailVerified"] is True
    status, answer = await post(server.url, "/api/auth/verify-email", {"token": token})
    assert (status, answer["error"]["code"]) == (400, "invalid_token")
    log = server.log_path.read_text()
    assert token not in log and "mail written to the outbox" in log
    await socket.disconnect()


async def test_with_smtp_url_the_email_arrives_at_a_real_smtp_server_and_a_failed_send_is_retried(own_server, inbox):
    server = own_server(SMTP_URL=f"smtp://127.0.0.1:{inbox.controller.port}", MAIL_FROM="Market <hello@market.test>")
    account = await register(server.url)
    [mail] = await eventually(lambda: inbox.to(account["user"]["email"]), bool)
    assert mail["From"] == "Market <hello@market.test>" and "/api/auth/verify-email?token=" in mail.get_content()
    assert not (server.data_dir / "outbox").exists()

    inbox.controller.stop()
    status, later = await post(
        server.url, "/api/auth/register", {"name": "Late", "email": unique_email(), "password": "password1", "role": "customer"}
    )
    assert status == 201
    await eventually(lambda: "mail not sent" in server.log_path.read_text(), bool)
    inbox.restart()
    assert await eventually(lambda: inbox.to(later["data"]["user"]["email"]), bool, timeout=20)


async def test_resending_the_verification_email_is_limited_to_one_a_minute(server):
    account = await register(server.url)
    headers = {"Authorization": f"Bearer {account['accessToken']}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/auth/verify-email/resend", headers=headers) as response:
            assert response.status == 202
        async with http.post(server.url + "/api/auth/verify-email/resend", headers=headers) as response:
            answer = await response.json()
            assert (response.status, answer["error"]["code"]) == (429, "rate_limited") and answer["error"]["details"]["retryAfter"] >= 1
    await eventually(lambda: len(_outbox(server.url, account["user"]["email"])), lambda count: count == 2)


async def test_forgot_and_reset_end_the_old_password_and_every_session_and_do_not_reveal_accounts(server):
    account = await register(server.url)
    email = account["user"]["email"]
    socket = await connect(server.url, account["accessToken"])
    revoked = Pushes(socket, "session:revoked")
    started = time.monotonic()
    known = await post(server.url, "/api/auth/password/forgot", {"email": email})
    known_took = time.monotonic() - started
    started = time.monotonic()
    unknown = await post(server.url, "/api/auth/password/forgot", {"email": unique_email()})
    assert known == unknown == (202, {"ok": True, "data": {"accepted": True}})
    assert abs((time.monotonic() - started) - known_took) < 0.5
    token = await eventually(lambda: _reset_token(server.url, email), bool)

    assert (await post(server.url, "/api/auth/password/reset", {"token": token, "password": "short"}))[1]["error"]["code"] == "invalid_request"
    status, answer = await post(server.url, "/api/auth/password/reset", {"token": token, "password": "a brand new password"})
    assert (status, answer["data"]) == (200, {"reset": True})
    assert await revoked.next("session:revoked") == {"reason": "password_reset"}
    assert (await post(server.url, "/api/auth/password/reset", {"token": token, "password": "another new password"}))[1]["error"][
        "code"
    ] == "invalid_token"
    assert (await post(server.url, "/api/auth/login", {"email": email, "password": account["password"]}))[0] == 401
    assert (await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]}))[0] == 401
    fresh = await login(server.url, email, "a brand new password")
    assert fresh["user"]["emailVerified"] is True
    await eventually(lambda: [m for m in _outbox(server.url, email) if m["Subject"] == "Your password was changed"], bool)


async def test_more_than_three_reset_requests_an_hour_send_no_more_email(server):
    account = await register(server.url)
    email = account["user"]["email"]
    for _ in range(5):
        assert (await post(server.url, "/api/auth/password/forgot", {"email": email}))[0] == 202
    await eventually(lambda: len([m for m in _outbox(server.url, email) if m["Subject"] == "Reset your password"]), lambda count: count == 3)
    await asyncio.sleep(1)
    assert len([m for m in _outbox(server.url, email) if m["Subject"] == "Reset your password"]) == 3


async def test_a_password_change_keeps_this_session_and_ends_the_others_live(server):
    account = await register(server.url)
    email = account["user"]["email"]
    laptop_session = await login(server.url, email, account["password"])
    phone, laptop = await connect(server.url, account["accessToken"]), await connect(server.url, laptop_session["accessToken"])
    ended, kept = Pushes(laptop, "session:revoked"), Pushes(phone, "session:revoked")
    wrong = await phone.call("auth:password:change", {"currentPassword": "not it", "newPassword": "whatever123"})
    assert wrong["error"]["code"] == "invalid_credentials"
    devices = (await ok(phone, "auth:sessions"))["sessions"]
    assert len(devices) == 2 and [d["current"] for d in devices].count(True) == 1
    fresh = await ok(phone, "auth:password:change", {"currentPassword": account["password"], "newPassword": "changed password"})
    assert await ended.next("session:revoked") == {"reason": "password_changed"}
    await asyncio.sleep(0.3)
    assert kept.queues["session:revoked"].empty() and phone.connected
    assert (await post(server.url, "/api/auth/refresh", {"refreshToken": laptop_session["refreshToken"]}))[0] == 401
    assert (await post(server.url, "/api/auth/refresh", {"refreshToken": fresh["refreshToken"]}))[0] == 200
    assert (await ok(phone, "auth:sessions"))["sessions"][0]["current"] is True
    assert (await login(server.url, email, "changed password"))["user"]["id"] == account["user"]["id"]
    await phone.disconnect()


async def test_a_password_change_ends_the_other_sessions_on_another_process(redis_url, mongodb_uri):
    database = f"test_{uuid.uuid4().hex[:12]}"
    servers = [ServerProcess(env={"REDIS_URL": redis_url, "MONGODB_URI": mongodb_uri}, database=database).start() for _ in range(2)]
    try:
        first, second = servers
        account = await register(first.url)
        other = await login(second.url, account["user"]["email"], account["password"])
        here, there = await connect(first.url, account["accessToken"]), await connect(second.url, other["accessToken"])
        ended = Pushes(there, "session:revoked")
        await ok(here, "auth:password:change", {"currentPassword": account["password"], "newPassword": "changed password"})
        assert await ended.next("session:revoked") == {"reason": "password_changed"}
        assert here.connected
        await here.disconnect()
    finally:
        for process in servers:
            process.remove()


async def test_signing_out_one_device_from_another(server):
    account = await register(server.url)
    other = await login(server.url, account["user"]["email"], account["password"])
    phone, tablet = await connect(server.url, account["accessToken"]), await connect(server.url, other["accessToken"])
    revoked = Pushes(tablet, "session:revoked")
    [tablet_session] = [d for d in (await ok(phone, "auth:sessions"))["sessions"] if not d["current"]]
    await ok(phone, "auth:sessions:revoke", {"sessionId": tablet_session["id"]})
    assert await revoked.next("session:revoked") == {"reason": "signed_out_elsewhere"}
    assert (await phone.call("auth:sessions:revoke", {"sessionId": tablet_session["id"]}))["error"]["code"] == "not_found"
    await phone.disconnect()


# --- Firebase


class KeyServer:
    """Google's role: a JWKS of public keys at a URL, with a Cache-Control max-age."""

    def __init__(self) -> None:
        self.port = free_port()
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.fetches = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks"

    def jwks(self) -> dict:
        return {"keys": [json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": kid, "alg": "RS256", "use": "sig"}
                         for kid, key in self.keys.items()]}  # fmt: skip

    def start(self) -> "KeyServer":
        ready = threading.Event()

        async def handle(request):
            self.fetches += 1
            return web.json_response(self.jwks(), headers={"Cache-Control": "public, max-age=3600"})

        def run():
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/jwks", handle)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)
        return self

    def token(self, *, kid: str = "k1", alg: str = "RS256", key=None, **claims) -> str:
        now = int(time.time())
        body = {
            "iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": uuid.uuid4().hex, "iat": now - 5, "exp": now + 600,
            "auth_time": now - 5, "email": unique_email("fb"), "email_verified": True, "firebase": {"sign_in_provider": "google.com"},
        } | claims  # fmt: skip
        return jwt.encode(body, key if key is not None else self.keys[kid], algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def google():
    return KeyServer().start()


@pytest.fixture(scope="module")
def firebase_server(google):
    process = ServerProcess(env={"FIREBASE_PROJECT_ID": PROJECT, "FIREBASE_JWKS_URL": google.url}).start()
    yield process
    process.remove()


async def test_a_correctly_signed_firebase_token_signs_in_creates_once_and_links_verified_emails(firebase_server, google):
    base = firebase_server.url
    uid, email = uuid.uuid4().hex, unique_email("fb")
    status, answer = await post(base, "/api/auth/firebase", {"idToken": google.token(sub=uid, email=email)})
    assert (status, answer["error"]["code"]) == (400, "role_required")
    status, first = await post(base, "/api/auth/firebase", {"idToken": google.token(sub=uid, email=email), "role": "contractor", "name": "Grace"})
    assert status == 200 and first["data"]["user"] | {"id": None, "createdAt": None} == first["data"]["user"] | {
        "id": None, "createdAt": None, "name": "Grace", "email": email, "role": "contractor", "emailVerified": True}  # fmt: skip
    status, again = await post(
        base, "/api/auth/firebase", {"idToken": google.token(sub=uid, email=email, firebase={"sign_in_provider": "github.com"})}
    )
    assert status == 200 and again["data"]["user"]["id"] == first["data"]["user"]["id"]
    socket = await connect(base, again["data"]["accessToken"])
    assert (await ok(socket, "me:get"))["user"]["email"] == email
    await socket.disconnect()

    local = await register(base)
    status, answer = await post(base, "/api/auth/firebase", {"idToken": google.token(email=local["user"]["email"], email_verified=False)})
    assert (status, answer["error"]["code"]) == (409, "account_exists")
    status, linked = await post(base, "/api/auth/firebase", {"idToken": google.token(email=local["user"]["email"])})
    assert status == 200 and linked["data"]["user"]["id"] == local["user"]["id"] and linked["data"]["user"]["emailVerified"] is True
    assert (await login(base, local["user"]["email"], local["password"]))["user"]["id"] == local["user"]["id"]


@pytest.mark.parametrize(
    "case",
    ["wrong aud", "wrong iss", "expired", "future iat", "future auth_time", "unknown kid", "alg none", "HS256 with the public key",
     "empty sub", "long sub", "garbage"],
)  # fmt: skip
async def test_each_bad_firebase_token_is_refused_with_invalid_token(firebase_server, google, case):
    now = int(time.time())
    public_pem = google.keys["k1"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    tokens = {
        "wrong aud": lambda: google.token(aud="someone-else"),
        "wrong iss": lambda: google.token(iss="https://securetoken.google.com/someone-else"),
        "expired": lambda: google.token(exp=now - 120, iat=now - 4000, auth_time=now - 4000),
        "future iat": lambda: google.token(iat=now + 600),
        "future auth_time": lambda: google.token(auth_time=now + 600),
        "unknown kid": lambda: google.token(kid="nope", key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "alg none": lambda: jwt.encode({"sub": "x", "aud": PROJECT}, None, algorithm="none", headers={"kid": "k1"}),
        "HS256 with the public key": lambda: _hs256_with(public_pem, {"sub": "x", "aud": PROJECT, "iss": f"https://securetoken.google.com/{PROJECT}",
                                                                    "iat": now, "exp": now + 600, "auth_time": now}),
        "empty sub": lambda: google.token(sub=""),
        "long sub": lambda: google.token(sub="x" * 129),
        "garbage": lambda: "not.a.token",
    }  # fmt: skip
    status, answer = await post(firebase_server.url, "/api/auth/firebase", {"idToken": tokens[case](), "role": "customer"})
    assert (status, answer["error"]["code"]) == (401, "invalid_token"), answer
    assert answer["error"]["details"] == {}


async def test_firebase_sign_in_is_off_without_a_project_id(server):
    status, answer = await post(server.url, "/api/auth/firebase", {"idToken": "x", "role": "customer"})
    assert (status, answer["error"]["code"]) == (404, "not_enabled")


def _hs256_with(secret: bytes, claims: dict) -> str:
    """The classic confusion attack: an HMAC token whose secret is the server's RSA public key."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(hmac.new(secret, header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    return (header + b"." + body + b"." + signature).decode()


def _outbox(base: str, to: str) -> list:
    return RUNNING[base].outbox(to)


def _reset_token(base: str, email: str) -> str | None:
    mails = [m for m in _outbox(base, email) if m["Subject"] == "Reset your password"]
    return _token_in(mails[-1]) if mails else None
