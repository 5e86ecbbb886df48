"""What a mobile client can rely on: retries with `clientRequestId` that change nothing twice, and rooms announced to both sides."""

import asyncio

from tests.conftest import call, call_many
from tests.marketplace import funded_customer, send_offer, task_with_application
from tests.money import Pushes, admin_socket, error_code, funded_contractor, ok, user_socket


async def test_racing_retries_of_a_withdrawal_create_one_request_and_hold_once(server):
    admin = await admin_socket(server.url)
    _, contractor, _ = await funded_contractor(server.url, admin, 5_000)
    queue = Pushes(admin, "admin:queue")
    answers = await call_many(contractor, "wallet:withdraw", [{"amount": 2_000, "clientRequestId": "withdraw-1"}] * 8)
    assert all(answer["ok"] for answer in answers) and len({answer["data"]["requestId"] for answer in answers}) == 1
    wallet = await ok(contractor, "wallet:get")
    assert (wallet["balance"], wallet["held"]) == (3_000, 2_000)
    mine = await ok(contractor, "wallet:withdrawals", {"status": "pending"})
    assert [request["id"] for request in mine["requests"]] == [answers[0]["data"]["requestId"]]
    assert (await queue.next("admin:queue"))["request"]["id"] == answers[0]["data"]["requestId"]
    await asyncio.sleep(0.3)
    assert queue.queues["admin:queue"].empty()
    conflict = await call(contractor, "wallet:withdraw", {"amount": 2_500, "clientRequestId": "withdraw-1"})
    assert conflict["error"]["code"] == "idempotency_conflict"
    assert (await ok(contractor, "wallet:get"))["held"] == 2_000
    await asyncio.gather(admin.disconnect(), contractor.disconnect())


async def test_racing_retries_of_task_create_make_one_task_and_another_payload_is_a_conflict(server):
    _, customer = await user_socket(server.url, "customer")
    body = {"title": "Hang a shelf", "description": "Oak, 1 m.", "budget": 5_000, "clientRequestId": "shelf"}
    answers = await call_many(customer, "task:create", [body] * 6)
    assert len({answer["data"]["task"]["id"] for answer in answers}) == 1
    assert (await ok(customer, "task:list", {"mine": True}))["pagination"]["total"] == 1
    assert await error_code(customer, "task:create", body | {"budget": 6_000}) == "idempotency_conflict"
    other = await ok(customer, "task:create", body | {"clientRequestId": "shelf-2"})
    assert other["task"]["id"] != answers[0]["data"]["task"]["id"]
    await customer.disconnect()


async def test_retried_apply_offer_deposit_group_and_adjustment_each_happen_once(server, fake_stripe):
    customer_session, customer = await funded_customer(server.url, 30_000)
    task, _, _ = await task_with_application(server.url, customer)
    contractor_session, contractor = await user_socket(server.url, "contractor")
    apply = {"taskId": task["id"], "message": "Me too", "clientRequestId": "apply-1"}
    applied = [await ok(contractor, "task:apply", apply) for _ in range(2)]
    assert applied[0] == applied[1]

    offer_body = {"applicationId": applied[0]["application"]["id"], "amount": 4_000, "timeline": "1 day", "description": "x", "clientRequestId": "o1"}
    offers = await call_many(customer, "offer:send", [offer_body] * 3)
    assert len({answer["data"]["offer"]["id"] for answer in offers}) == 1
    assert (await ok(customer, "wallet:get"))["held"] == 4_200

    deposits = [await ok(customer, "wallet:deposit", {"amount": 1_000, "clientRequestId": "top-up"}) for _ in range(2)]
    assert deposits[0] == deposits[1]
    assert (
        len([c for c in fake_stripe.calls_to("/v1/checkout/sessions") if c.params.get("metadata", {}).get("depositId") == deposits[0]["depositId"]])
        == 1
    )

    group = {"name": "Crew", "memberIds": [contractor_session["user"]["id"]], "clientRequestId": "crew"}
    rooms = [await ok(customer, "chat:create", group) for _ in range(2)]
    assert rooms[0]["room"]["id"] == rooms[1]["room"]["id"]

    admin = await admin_socket(server.url)
    adjust = {"userId": customer_session["user"]["id"], "amount": 700, "reason": "goodwill", "clientRequestId": "goodwill-1"}
    first, again = [await ok(admin, "admin:wallet:adjust", adjust) for _ in range(2)]
    assert first["wallet"]["balance"] == again["wallet"]["balance"]
    adjustments = [t for t in (await ok(customer, "wallet:transactions", {"limit": 100}))["transactions"] if t["type"] == "adjustment"]
    assert [t["availableChange"] for t in adjustments] == [700]
    await asyncio.gather(customer.disconnect(), contractor.disconnect(), admin.disconnect())


async def test_a_new_direct_room_is_announced_to_the_other_member_once(server):
    (alice, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    at_bob, at_alice = Pushes(bob_c, "chat:room"), Pushes(alice_c, "chat:room")
    room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
    announced = (await at_bob.next("chat:room"))["room"]
    assert (announced["id"], announced["kind"], announced["unreadCount"]) == (room["id"], "direct", 0)
    assert (await ok(bob_c, "chat:open", {"userId": alice["user"]["id"]}))["room"]["id"] == room["id"]
    await asyncio.sleep(0.3)
    assert at_bob.queues["chat:room"].empty() and at_alice.queues["chat:room"].empty()
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())


async def test_an_accepted_offer_announces_the_task_room_to_both_parties(server):
    _, customer = await funded_customer(server.url, 20_000)
    task, application, contractor = await task_with_application(server.url, customer)
    heard = Pushes(customer, "chat:room"), Pushes(contractor, "chat:room")
    offer = await send_offer(customer, application)
    await ok(contractor, "offer:accept", {"offerId": offer["id"]})
    for pushes in heard:
        room = (await pushes.next("chat:room"))["room"]
        assert (room["kind"], room["taskId"]) == ("task", task["id"])
    await asyncio.gather(customer.disconnect(), contractor.disconnect())
