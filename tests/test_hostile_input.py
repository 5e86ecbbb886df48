"""No input reaches `internal`: fuzzed payloads for every event, hostile values, malformed frames and HTTP bodies.

Payloads are generated from each event's own JSON schema (hypothesis-jsonschema, derandomized
so CI sees the same cases every run) and from hand-picked hostile values put in every field:
integers beyond 64 bits, deep nesting, NUL and control characters, near-megabyte strings,
wrong types. Each answer must be an envelope and never `internal`, the socket must stay
up, every log line must be one JSON object, and the books must audit clean afterwards.
"""

import asyncio
import json

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

import handlers  # noqa: F401  (registers every event)
from server.gateway.events import registry
from tests.conftest import ADMIN, connect, login, money_server, post, register
from tests.money import funded_contractor, ok, user_socket

HOSTILE = [
    2**70, -(2**70), 2**63, 1.5, -1, 0, True, None, "", "\x00", "a\x00b", "\u200b\u200d", "\x07bell", "0", "-1", "123",
    "x" * 999_000, [], [[[[[[[[[[[]]]]]]]]]]], {}, {"$gt": ""}, {"nested": {"deeper": [1, {"deepest": None}]}}, "f" * 24,
]  # fmt: skip
GENERATED_PER_EVENT = 12


def generated(schema: dict, count: int) -> list:
    """`count` payloads drawn from the schema, the same ones every run."""
    found: list = []

    @settings(max_examples=count, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(from_schema(schema))
    def collect(value) -> None:
        found.append(value)

    collect()
    return found


def hostile_variants(schema: dict) -> list[dict]:
    """Each hostile value in each top-level field (the rest left out), and the payload as a whole."""
    fields = list(schema.get("properties", {})) or ["unexpected"]
    return [{name: value} for name in fields for value in HOSTILE] + [value for value in HOSTILE if not isinstance(value, dict)]


def is_envelope(answer: object) -> bool:
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        return False
    if answer["ok"]:
        return "data" in answer
    error = answer.get("error") or {}
    return isinstance(error.get("code"), str) and isinstance(error.get("message"), str) and isinstance(error.get("details"), dict)


@pytest.fixture(scope="module")
def fuzzed_server(fake_stripe):
    """A server of its own, with the per-user budgets lifted so that the fuzzed calls reach their handlers."""
    process = money_server(fake_stripe, WRITES_PER_SECOND="100000", WRITES_PER_MINUTE="1000000", CHAT_MESSAGES_PER_WINDOW="100000")
    process.start()
    yield process
    try:
        lines = process.log_path.read_text().splitlines()
        not_json = [line for line in lines if not _is_json_object(line)]
        assert not not_json, not_json[:5]
        assert not [line for line in lines if '"event failed"' in line or '"request failed"' in line]
        process.audit_clean()
    finally:
        process.remove()


async def test_every_event_answers_fuzzed_and_hostile_payloads_with_an_envelope_and_never_internal(fuzzed_server):
    base = fuzzed_server.url
    admin = await connect(base, (await login(base, ADMIN["email"], ADMIN["password"]))["accessToken"])
    _, customer = await user_socket(base, "customer")
    _, contractor, _ = await funded_contractor(base, admin, 50_000)
    by_role = {"admin": admin, "customer": customer, "contractor": contractor}
    seen = 0
    for name, spec in sorted(registry.events.items()):
        if name == "auth:refresh":
            continue
        client = next(by_role[role] for role in ("customer", "contractor", "admin") if role in spec.roles)
        schema = spec.payload.model_json_schema()
        for payload in generated(schema, GENERATED_PER_EVENT) + hostile_variants(schema):
            answer = await client.call(name, payload, timeout=30)
            assert is_envelope(answer), (name, payload, answer)
            assert answer["ok"] or answer["error"]["code"] != "internal", (name, str(payload)[:200], answer)
            seen += 1
        assert client.connected, name
    assert seen > 1_000
    assert (await ok(customer, "sys:ping"))["serverTime"]
    await asyncio.gather(admin.disconnect(), customer.disconnect(), contractor.disconnect())


async def test_dates_are_iso_8601_with_a_time_zone_and_text_must_be_visible_and_free_of_control_characters(server):
    _, customer = await user_socket(server.url, "customer")
    base = {"title": "Paint the gate", "description": "Blue.", "budget": 1_000}
    for deadline in (0, -1, 1.5, "123", "0", "2027-01-31", "2027-01-31T12:00:00", "tomorrow"):
        answer = await customer.call("task:create", base | {"deadline": deadline})
        assert answer["error"]["code"] == "invalid_request", deadline
    assert (await ok(customer, "task:create", base | {"deadline": "2027-01-31T12:00:00Z"}))["task"]["deadline"].startswith("2027-01-31T12:00")
    for title in ("\u200b\u200b\u200b", "\u200d\u2060\ufeff", "Fix\x00it", "Bell\x07"):
        answer = await customer.call("task:create", base | {"title": title})
        assert answer["error"]["code"] == "invalid_request", repr(title)
    assert (await ok(customer, "task:create", base | {"title": "Fix\tit\nnow"}))["task"]["title"] == "Fix\tit\nnow"
    await customer.disconnect()


async def test_malformed_frames_get_an_envelope_when_their_ack_id_can_be_read_and_the_socket_stays_up(server):
    account = await register(server.url)
    async with aiohttp.ClientSession() as http:
        for authenticated in (True, False):
            ws = await http.ws_connect(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
            assert (await ws.receive_str()).startswith("0")
            if authenticated:
                await ws.send_str("40" + json.dumps({"token": account["accessToken"]}))
                assert (await ws.receive_str()).startswith("40")
            frames = {7: '427["sys:ping"', 8: "428[]", 9: "429[123,{}]", 10: "4210" + "[" * 100_000, 11: '4211{"not": "a list"}'}
            if not authenticated:
                frames[12] = '4212["sys:ping"]'
            for frame in frames.values():
                await ws.send_str(frame)
            answers = {}
            while len(answers) < len(frames):
                message = (await asyncio.wait_for(ws.receive(), 10)).data
                if message == "2":
                    await ws.send_str("3")
                    continue
                assert message.startswith("43"), message
                bracket = message.index("[")
                answers[int(message[2:bracket])] = json.loads(message[bracket:])[0]
            expected = "invalid_request" if authenticated else "unauthorized"
            assert {ack: answer["error"]["code"] for ack, answer in answers.items() if ack != 12} == dict.fromkeys(range(7, 12), "invalid_request")
            if not authenticated:
                assert answers[12]["error"]["code"] == expected
            else:
                await ws.send_str('4213["sys:ping"]')
                assert (await asyncio.wait_for(ws.receive_str(), 10)).startswith("4313[")
            await ws.close()
    lines = [line for line in server.log_path.read_text().splitlines() if "protocol errors from a client" in line]
    assert 1 <= len(lines) <= 4 and all(_is_json_object(line) for line in lines)


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout"])
async def test_hostile_json_bodies_answer_400_not_500(server, path):
    bodies = [
        b"[" * 50_000 + b"]" * 50_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"email": ' + b"9" * 5_001 + b"}",
        b'{"refreshToken": "' + b"x" * 100_000 + b'"}',
        b'{"name": "A\\u0000", "email": "a@example.com", "password": "password1", "role": "customer"}',
        b'{"email": {"$gt": ""}, "password": ["x"]}',
        b"\xff\xfe\x00",
    ]
    async with aiohttp.ClientSession() as http:
        for body in bodies:
            async with http.post(server.url + path, data=body, headers={"Content-Type": "application/json"}) as response:
                answer = await response.json()
                assert response.status in (400, 401, 429), (body[:40], response.status, answer)
                assert answer["error"]["code"] != "internal"


async def test_uploads_that_are_not_one_file_part_answer_400(server):
    account = await register(server.url)
    headers = {"Authorization": f"Bearer {account['accessToken']}"}
    nested = aiohttp.MultipartWriter("form-data")
    inner = aiohttp.MultipartWriter("mixed")
    inner.append("hello")
    nested.append(inner)
    other = aiohttp.FormData()
    other.add_field("photo", b"\x89PNG", filename="a.png")
    async with aiohttp.ClientSession() as http:
        for body in (nested, other, b"not multipart at all"):
            async with http.post(server.url + "/api/files", data=body, headers=headers) as response:
                answer = await response.json()
                assert (response.status, answer["error"]["code"]) == (400, "invalid_request"), answer
    assert (await post(server.url, "/api/files", {}))[0] == 401


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
