"""What the server tells task participants unprompted; each of these pushes is also stored as a notification.

Pushes reach every socket of each participant and the sockets watching the task
(`task:watch`), once per socket even when a socket is in several of those rooms.
"""

from typing import Any

from models import applications, offers, tasks
from server.gateway.events import push
from server.gateway.rooms import task_room
from server.gateway.shapes import ApplicationResult, OfferResult, Shape, Task
from server.pushes.delivery import deliver


class TaskChange(Shape):
    taskId: str
    status: str
    task: Task


TASK_UPDATED = push(
    "task:updated",
    TaskChange,
    "A task's status or content changed; to its owner, its contractor and sockets watching it (`task:watch`).",
    stored=True,
)
APPLICATION_RECEIVED = push("application:received", ApplicationResult, "To a task's owner: a contractor applied.", stored=True)
OFFER_RECEIVED = push("offer:received", OfferResult, "To a contractor: a customer sent an offer (its hold is already placed).", stored=True)
OFFER_UPDATED = push("offer:updated", OfferResult, "To both parties: an offer was accepted, rejected, cancelled or expired.", stored=True)


async def task_updated(services, task: dict[str, Any]) -> None:
    view = tasks.public(task)
    await deliver(
        services,
        TASK_UPDATED,
        {"taskId": view["id"], "status": view["status"], "task": view},
        users=tasks.participants(task),
        rooms=[task_room(view["id"])],
    )


async def application_received(services, application: dict[str, Any], task: dict[str, Any]) -> None:
    await deliver(services, APPLICATION_RECEIVED, {"application": applications.public(application)}, users=[task["ownerId"]])


async def offer_received(services, offer: dict[str, Any]) -> None:
    await deliver(services, OFFER_RECEIVED, {"offer": offers.public(offer)}, users=[offer["contractorId"]])


async def offer_updated(services, offer: dict[str, Any]) -> None:
    await deliver(services, OFFER_UPDATED, {"offer": offers.public(offer)}, users=offers.parties(offer))
