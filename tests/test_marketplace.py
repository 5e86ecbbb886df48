"""The marketplace from both sides: tasks, applications, offers with held funds, delivery, completion, cancellation."""

import asyncio

import pytest

from tests.conftest import call, connect
from tests.marketplace import PNG, download, funded_customer, send_offer, task_with_application, upload
from tests.money import Pushes, admin_socket, error_code, ok, user_socket, verify_payouts


async def wallet(client) -> tuple[int, int]:
    found = await ok(client, "wallet:get")
    return found["balance"], found["held"]


async def test_a_task_goes_from_posting_to_a_paid_contractor(server):
    customer_session, customer = await funded_customer(server.url, 20_000)
    admin = await admin_socket(server.url)
    queue = Pushes(admin, "admin:queue")
    owner_pushes = Pushes(customer, "application:received", "task:updated", "offer:updated")
    task = (
        await ok(
            customer,
            "task:create",
            {
                "title": "Paint the shed",
                "description": "Green, two coats.",
                "budget": 10_000,
                "tags": ["garden", "paint"],
                "deadline": "2027-01-31T12:00:00+00:00",
            },
        )
    )["task"]
    assert (task["status"], task["budget"], task["deadline"]) == ("open", 10_000, "2027-01-31T12:00:00+00:00")

    contractor_session, contractor = await user_socket(server.url, "contractor")
    contractor_pushes = Pushes(contractor, "offer:received", "task:updated")
    found = await ok(contractor, "task:list", {"status": "open", "tags": ["paint"], "q": "SHED"})
    assert [listed["id"] for listed in found["tasks"]] == [task["id"]]
    application = (await ok(contractor, "task:apply", {"taskId": task["id"], "message": "Done by Friday."}))["application"]
    assert (await owner_pushes.next("application:received"))["application"]["id"] == application["id"]
    assert [a["id"] for a in (await ok(customer, "task:applications", {"taskId": task["id"]}))["applications"]] == [application["id"]]

    offer = await send_offer(customer, application)
    assert {k: offer[k] for k in ("amount", "platformFee", "serviceFee", "contractorPayout", "totalCharge", "status")} == {
        "amount": 10_000,
        "platformFee": 500,
        "serviceFee": 2_000,
        "contractorPayout": 8_000,
        "totalCharge": 10_500,
        "status": "pending",
    }
    assert (await contractor_pushes.next("offer:received"))["offer"]["id"] == offer["id"]
    assert await wallet(customer) == (9_500, 10_500)

    accepted = await ok(contractor, "offer:accept", {"offerId": offer["id"]})
    assert (accepted["offer"]["status"], accepted["task"]["status"]) == ("accepted", "assigned")
    assert (await owner_pushes.next("offer:updated"))["offer"]["status"] == "accepted"
    assert (await owner_pushes.next("task:updated"))["status"] == "assigned"
    assert await wallet(customer) == (9_500, 0)
    [task_room] = [room for room in (await ok(contractor, "chat:rooms"))["rooms"] if room["taskId"] == task["id"]]
    assert task_room["kind"] == "task" and set(task_room["memberIds"]) == {customer_session["user"]["id"], contractor_session["user"]["id"]}
    assert (await ok(customer, "chat:send", {"roomId": task_room["id"], "text": "Thanks!", "clientMsgId": "t1"}))["message"]["seq"] == 1
    assert (await ok(contractor, "task:start", {"taskId": task["id"]}))["task"]["status"] == "in_progress"

    status, uploaded = await upload(server.url, contractor_session["accessToken"], PNG + b"fence")
    assert status == 201 and uploaded["data"]["contentType"] == "image/png"
    file_id = uploaded["data"]["fileId"]
    submitted = await ok(contractor, "task:submit", {"taskId": task["id"], "note": "See photo.", "fileIds": [file_id]})
    assert submitted["task"]["submission"]["fileIds"] == [file_id]
    assert await download(server.url, customer_session["accessToken"], file_id) == (200, PNG + b"fence")
    stranger, stranger_socket = await user_socket(server.url, "customer")
    assert (await download(server.url, stranger["accessToken"], file_id))[0] == 404
    assert (await ok(stranger_socket, "task:get", {"taskId": task["id"]}))["task"]["submission"] is None
    assert (await ok(customer, "task:get", {"taskId": task["id"]}))["task"]["submission"]["note"] == "See photo."

    completion = await ok(customer, "task:complete", {"taskId": task["id"]})
    assert completion["task"]["status"] == "completion_requested"
    added = await queue.until("admin:queue", lambda change: change["kind"] == "completion" and change["request"]["taskId"] == task["id"])
    assert added["action"] == "added"
    decided = await ok(admin, "admin:completion:approve", {"requestId": completion["request"]["id"]})
    assert (decided["request"]["status"], decided["task"]["status"]) == ("approved", "completed")
    assert (await contractor_pushes.until("task:updated", lambda change: change["status"] == "completed"))["taskId"] == task["id"]

    earned = await ok(contractor, "wallet:get")
    assert (earned["balance"], earned["totalEarnings"]) == (8_000, 8_000)
    await verify_payouts(server.url, contractor)
    asked = await ok(contractor, "wallet:withdraw", {"amount": 8_000})
    paid = (await ok(admin, "admin:withdrawal:approve", {"requestId": asked["requestId"]}))["request"]
    assert paid["status"] == "paid" and (await ok(contractor, "wallet:get"))["totalWithdrawals"] == 8_000
    spent = await ok(customer, "wallet:get")
    assert (spent["balance"], spent["held"], spent["totalSpent"]) == (9_500, 0, 10_500)
    assert await error_code(admin, "admin:completion:approve", {"requestId": completion["request"]["id"]}) == "invalid_state"
    assert await error_code(customer, "task:cancel", {"taskId": task["id"], "reason": "changed my mind"}) == "invalid_state"

    inbox = await ok(contractor, "notifications:list", {"limit": 100})
    events = [item["event"] for item in inbox["notifications"]]
    assert "offer:received" in events and "task:updated" in events and inbox["unreadCount"] == len(events)
    marked = await ok(contractor, "notifications:read", {"ids": [item["id"] for item in inbox["notifications"]]})
    assert marked["updated"] == len(events)
    assert (await ok(contractor, "notifications:list", {"unreadOnly": True}))["unreadCount"] == 0
    await asyncio.gather(*(client.disconnect() for client in (customer, contractor, admin, stranger_socket)))


async def test_an_offer_the_customer_cannot_cover_creates_nothing(server):
    _, customer = await funded_customer(server.url, 5_000)
    task, application, contractor = await task_with_application(server.url, customer)
    answer = await call(customer, "offer:send", {"applicationId": application["id"], "amount": 10_000, "timeline": "1 day", "description": "x"})
    assert answer["error"]["code"] == "insufficient_funds"
    assert await wallet(customer) == (5_000, 0)
    assert (await ok(customer, "task:get", {"taskId": task["id"]}))["task"]["pendingOfferId"] is None
    assert (await send_offer(customer, application, amount=4_000))["totalCharge"] == 4_200
    await asyncio.gather(customer.disconnect(), contractor.disconnect())


async def test_applications_and_offers_follow_their_rules(server):
    _, customer = await funded_customer(server.url, 50_000)
    _, other_customer = await funded_customer(server.url, 50_000)
    task, application, contractor = await task_with_application(server.url, customer)
    assert await error_code(contractor, "task:apply", {"taskId": task["id"], "message": "again"}) == "already_applied"
    assert await error_code(customer, "task:apply", {"taskId": task["id"], "message": "me"}) == "forbidden"
    assert await error_code(other_customer, "task:applications", {"taskId": task["id"]}) == "forbidden"
    assert (
        await error_code(other_customer, "offer:send", {"applicationId": application["id"], "amount": 1_000, "timeline": "x", "description": "x"})
        == "forbidden"
    )
    assert await error_code(contractor, "task:update", {"taskId": task["id"], "title": "Mine now"}) == "forbidden"
    assert await error_code(other_customer, "task:update", {"taskId": task["id"], "title": "Mine now"}) == "forbidden"
    updated = (await ok(customer, "task:update", {"taskId": task["id"], "title": "Fix the whole fence", "tags": ["a", "a"], "budget": None}))["task"]
    assert (updated["title"], updated["tags"], updated["budget"]) == ("Fix the whole fence", ["a"], 10_000)
    assert (
        await error_code(customer, "offer:send", {"applicationId": application["id"], "amount": 10_000.0, "timeline": "x", "description": "x"})
        == "invalid_request"
    )

    offer = await send_offer(customer, application)
    assert (
        await error_code(customer, "offer:send", {"applicationId": application["id"], "amount": 1_000, "timeline": "x", "description": "x"})
        == "invalid_state"
    )
    assert await error_code(customer, "offer:accept", {"offerId": offer["id"]}) == "forbidden"
    _, stranger = await user_socket(server.url, "contractor")
    assert await error_code(stranger, "offer:accept", {"offerId": offer["id"]}) == "forbidden"
    assert await error_code(stranger, "task:watch", {"taskId": task["id"]}) == "forbidden"
    assert await error_code(stranger, "offer:accept", {"offerId": "nope"}) == "not_found"
    await ok(contractor, "offer:accept", {"offerId": offer["id"]})
    assert await error_code(customer, "task:update", {"taskId": task["id"], "title": "Too late"}) == "invalid_state"
    assert await error_code(stranger, "task:apply", {"taskId": task["id"], "message": "late"}) == "invalid_state"
    assert await error_code(contractor, "task:submit", {"taskId": task["id"], "note": "early"}) == "invalid_state"
    mine = await ok(contractor, "task:list", {"mine": True})
    assert [listed["id"] for listed in mine["tasks"]] == [task["id"]]
    await asyncio.gather(*(client.disconnect() for client in (customer, other_customer, contractor, stranger)))


async def test_rejecting_or_cancelling_an_offer_releases_its_hold(server):
    _, customer = await funded_customer(server.url, 30_000)
    task, application, contractor = await task_with_application(server.url, customer)
    pushes = Pushes(customer, "offer:updated")
    first = await send_offer(customer, application)
    cancelled = (await ok(customer, "offer:cancel", {"offerId": first["id"]}))["offer"]
    assert cancelled["status"] == "cancelled" and await wallet(customer) == (30_000, 0)
    assert (await pushes.next("offer:updated"))["offer"]["status"] == "cancelled"

    second = await send_offer(customer, application, amount=5_000)
    rejected = (await ok(contractor, "offer:reject", {"offerId": second["id"], "reason": "too low"}))["offer"]
    assert (rejected["status"], rejected["reason"]) == ("rejected", "too low")
    assert await wallet(customer) == (30_000, 0)
    assert (
        await error_code(customer, "offer:send", {"applicationId": application["id"], "amount": 6_000, "timeline": "x", "description": "x"})
        == "invalid_state"
    )
    assert await error_code(contractor, "offer:accept", {"offerId": second["id"]}) == "invalid_state"
    assert (await ok(customer, "task:get", {"taskId": task["id"]}))["task"]["status"] == "open"
    await asyncio.gather(customer.disconnect(), contractor.disconnect())


async def test_an_accept_racing_a_cancel_and_a_second_accept_has_exactly_one_winner(server):
    _, customer = await funded_customer(server.url, 50_000)
    for _ in range(3):
        task, application, contractor = await task_with_application(server.url, customer)
        offer = await send_offer(customer, application)
        accepted, cancelled, again = await asyncio.gather(
            call(contractor, "offer:accept", {"offerId": offer["id"]}),
            call(customer, "offer:cancel", {"offerId": offer["id"]}),
            call(contractor, "offer:accept", {"offerId": offer["id"]}),
        )
        assert not again["ok"] and again["error"]["code"] == "invalid_state"
        assert accepted["ok"] != cancelled["ok"]
        loser = cancelled if accepted["ok"] else accepted
        assert loser["error"]["code"] == "invalid_state"
        status = (await ok(customer, "task:get", {"taskId": task["id"]}))["task"]["status"]
        assert status == ("assigned" if accepted["ok"] else "open")
        await contractor.disconnect()
    balance, held = await wallet(customer)
    assert held == 0 and balance in range(50_000 - 3 * 10_500, 50_001, 10_500)
    await customer.disconnect()


async def test_cancelling_after_acceptance_refunds_the_customer(server):
    _, customer = await funded_customer(server.url, 20_000)
    admin = await admin_socket(server.url)
    task, application, contractor = await task_with_application(server.url, customer, autoStart=True)
    offer = await send_offer(customer, application)
    assert (await ok(contractor, "offer:accept", {"offerId": offer["id"]}))["task"]["status"] == "in_progress"
    assert await wallet(customer) == (9_500, 0)
    cancelled = await ok(contractor, "task:cancel", {"taskId": task["id"], "reason": "I fell ill"})
    assert (cancelled["task"]["status"], cancelled["refundAmount"]) == ("cancelled", 10_500)
    assert await wallet(customer) == (20_000, 0)
    assert await error_code(admin, "admin:task:cancel", {"taskId": task["id"], "reason": "again"}) == "invalid_state"

    second, application, contractor_two = await task_with_application(server.url, customer)
    await send_offer(customer, application, amount=2_000)
    assert (await ok(admin, "admin:task:cancel", {"taskId": second["id"], "reason": "spam"}))["refundAmount"] == 0
    assert await wallet(customer) == (20_000, 0)
    await asyncio.gather(*(client.disconnect() for client in (customer, admin, contractor, contractor_two)))


async def test_a_rejected_completion_returns_the_task_for_another_submission(server):
    _, customer = await funded_customer(server.url, 20_000)
    admin = await admin_socket(server.url)
    task, application, contractor = await task_with_application(server.url, customer, autoStart=True)
    await ok(contractor, "offer:accept", {"offerId": (await send_offer(customer, application))["id"]})
    await ok(contractor, "task:submit", {"taskId": task["id"], "note": "first try"})
    request = (await ok(customer, "task:complete", {"taskId": task["id"]}))["request"]
    listed = await ok(admin, "admin:completions", {"status": "pending", "limit": 100})
    assert request["id"] in [item["id"] for item in listed["requests"]]
    rejected = await ok(admin, "admin:completion:reject", {"requestId": request["id"], "reason": "photo missing"})
    assert (rejected["task"]["status"], rejected["task"]["rejectionReason"]) == ("in_progress", "photo missing")
    assert (await ok(contractor, "task:submit", {"taskId": task["id"], "note": "with photo"}))["task"]["status"] == "submitted"
    request = (await ok(customer, "task:complete", {"taskId": task["id"]}))["request"]
    cancelled = await ok(admin, "admin:task:cancel", {"taskId": task["id"], "reason": "dispute"})
    assert cancelled["refundAmount"] == 10_500
    assert await error_code(admin, "admin:completion:approve", {"requestId": request["id"]}) == "invalid_state"
    await asyncio.gather(*(client.disconnect() for client in (customer, admin, contractor)))


async def test_uploads_are_checked_by_content_size_and_owner(server):
    session, client = await user_socket(server.url, "contractor")
    other, other_client = await user_socket(server.url, "contractor")
    assert (await upload(server.url, None, PNG))[0] == 401
    status, answer = await upload(server.url, session["accessToken"], b"\x7fELF\x02\x01\x01" + bytes(100), name="photo.png")
    assert (status, answer["error"]["code"]) == (415, "unsupported_type")
    status, answer = await upload(server.url, session["accessToken"], PNG + bytes(200_001))
    assert (status, answer["error"]["code"], answer["error"]["details"]["maxBytes"]) == (413, "payload_too_large", 200_000)
    status, answer = await upload(server.url, session["accessToken"], "Plain notes, ünïcode.".encode(), name="../../etc/notes.txt")
    assert (status, answer["data"]["contentType"]) == (201, "text/plain")
    assert "/" not in answer["data"]["name"] and answer["data"]["name"].endswith("notes.txt")
    assert (await download(server.url, other["accessToken"], answer["data"]["fileId"]))[0] == 404
    assert (await download(server.url, session["accessToken"], answer["data"]["fileId"]))[0] == 200

    _, customer = await funded_customer(server.url, 20_000)
    task, application, contractor = await task_with_application(server.url, customer, autoStart=True)
    await ok(contractor, "offer:accept", {"offerId": (await send_offer(customer, application))["id"]})
    assert await error_code(contractor, "task:submit", {"taskId": task["id"], "note": "theirs", "fileIds": [answer["data"]["fileId"]]}) == "not_found"
    await asyncio.gather(*(c.disconnect() for c in (client, other_client, customer, contractor)))


async def test_two_admins_approving_one_completion_pay_once(server):
    _, customer = await funded_customer(server.url, 20_000)
    first, second = await admin_socket(server.url), await admin_socket(server.url)
    task, application, contractor = await task_with_application(server.url, customer, autoStart=True)
    await ok(contractor, "offer:accept", {"offerId": (await send_offer(customer, application))["id"]})
    await ok(contractor, "task:submit", {"taskId": task["id"], "note": "done"})
    request = (await ok(customer, "task:complete", {"taskId": task["id"]}))["request"]
    answers = await asyncio.gather(*(call(admin, "admin:completion:approve", {"requestId": request["id"]}) for admin in (first, second)))
    assert sorted(answer["ok"] for answer in answers) == [False, True]
    assert [answer["error"]["code"] for answer in answers if not answer["ok"]] == ["invalid_state"]
    assert (await ok(contractor, "wallet:get"))["balance"] == 8_000
    await asyncio.gather(*(client.disconnect() for client in (customer, first, second, contractor)))


async def test_a_contractor_who_was_offline_catches_up_from_notifications(server):
    _, customer = await funded_customer(server.url, 20_000)
    task, application, contractor = await task_with_application(server.url, customer)
    await contractor.disconnect()
    offer = await send_offer(customer, application)
    await ok(customer, "offer:cancel", {"offerId": offer["id"]})
    contractor = await connect(server.url, application["contractorToken"])
    inbox = await ok(contractor, "notifications:list", {"unreadOnly": True})
    assert [(item["event"], item["data"]["offer"]["status"]) for item in inbox["notifications"]] == [
        ("offer:updated", "cancelled"),
        ("offer:received", "pending"),
    ]
    assert inbox["unreadCount"] == 2
    await asyncio.gather(customer.disconnect(), contractor.disconnect())


@pytest.mark.parametrize("stage", ["assigned", "in_progress", "submitted"])
async def test_the_owner_cancelling_at_each_funded_stage_is_refunded_in_full(server, stage):
    _, customer = await funded_customer(server.url, 15_000)
    task, application, contractor = await task_with_application(server.url, customer)
    await ok(contractor, "offer:accept", {"offerId": (await send_offer(customer, application))["id"]})
    if stage != "assigned":
        await ok(contractor, "task:start", {"taskId": task["id"]})
    if stage == "submitted":
        await ok(contractor, "task:submit", {"taskId": task["id"], "note": "done"})
    assert (await ok(customer, "task:get", {"taskId": task["id"]}))["task"]["status"] == stage
    cancelled = await ok(customer, "task:cancel", {"taskId": task["id"], "reason": "no longer needed"})
    assert (cancelled["task"]["status"], cancelled["refundAmount"]) == ("cancelled", 10_500)
    assert await wallet(customer) == (15_000, 0)
    assert (await ok(contractor, "wallet:get"))["balance"] == 0
    await asyncio.gather(customer.disconnect(), contractor.disconnect())
