"""Acks and pushes match the shapes the registry declares for them (`tests/shapes.py` checks every one the suite sees)."""

import asyncio

from tests import shapes
from tests.marketplace import funded_customer, send_offer, task_with_application
from tests.money import Pushes, ok


def test_a_public_dict_that_drifts_from_its_shape_is_caught():
    before = len(shapes.MISMATCHES)
    task = {
        "id": "t",
        "ownerId": "o",
        "title": "x",
        "description": "d",
        "budget": 100,
        "currency": "usd",
        "tags": [],
        "deadline": None,
        "autoStart": False,
        "status": "open",
        "contractorId": None,
        "offerId": None,
        "pendingOfferId": None,
        "submission": None,
        "rejectionReason": None,
        "cancelReason": None,
        "createdAt": "now",
        "updatedAt": "now",
        "rankedAt": "now",
    }
    shapes.check("ack", "task:get", {"task": task})
    shapes.check("ack", "task:get", {"task": task | {"internalNote": "leaked"}})
    shapes.check("push", "task:updated", {"taskId": "t", "status": "open", "task": {k: v for k, v in task.items() if k != "budget"}})
    shapes.check("push", "no:such:push", {})
    caught = shapes.MISMATCHES[before:]
    del shapes.MISMATCHES[before:]
    assert [line.split(":")[0] for line in caught] == ["ack task", "push task", "push no"]
    assert "internalNote" in caught[0] and "budget" in caught[1]


async def test_every_ack_and_push_of_a_trade_is_checked_against_its_shape(server):
    before = shapes.SEEN.copy()
    _, customer = await funded_customer(server.url, 20_000)
    _, application, contractor = await task_with_application(server.url, customer)
    heard = Pushes(contractor, "offer:received", "task:updated")
    offer = await send_offer(customer, application)
    await heard.next("offer:received")
    await ok(contractor, "offer:accept", {"offerId": offer["id"]})
    await heard.next("task:updated")
    await ok(customer, "notifications:list", {"unreadOnly": True})
    checked = shapes.SEEN - before
    for name in (
        "ack wallet:deposit",
        "ack task:create",
        "ack task:apply",
        "ack offer:send",
        "ack offer:accept",
        "ack notifications:list",
        "push offer:received",
        "push task:updated",
        "push wallet:updated",
        "push application:received",
        "push deposit:updated",
    ):
        assert checked[name] >= 1, (name, checked)
    assert not shapes.MISMATCHES
    await asyncio.gather(customer.disconnect(), contractor.disconnect())
