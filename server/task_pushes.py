"""What the server tells task participants unprompted; each push is also stored as a notification.

Pushes reach every socket of each participant (`user:<id>`) and the sockets watching the
task (`task:<id>`), once per socket even when a socket is in several of those rooms.
"""

from typing import Any

from pydantic import BaseModel

from models import applications, offers, tasks
from server.events import push
from server.notify import tell


class Submission(BaseModel):
    note: str
    fileIds: list[str]
    submittedAt: str


class Task(BaseModel):
    id: str
    ownerId: str
    title: str
    description: str
    budget: int
    currency: str
    tags: list[str]
    deadline: str | None
    autoStart: bool
    status: str
    contractorId: str | None
    offerId: str | None
    pendingOfferId: str | None
    submission: Submission | None
    rejectionReason: str | None
    cancelReason: str | None
    createdAt: str
    updatedAt: str


class Application(BaseModel):
    id: str
    taskId: str
    contractorId: str
    message: str
    status: str
    createdAt: str


class Offer(BaseModel):
    id: str
    taskId: str
    applicationId: str
    customerId: str
    contractorId: str
    amount: int
    platformFee: int
    serviceFee: int
    contractorPayout: int
    totalCharge: int
    currency: str
    timeline: str
    description: str
    status: str
    reason: str | None
    expiresAt: str
    createdAt: str


class TaskChange(BaseModel):
    taskId: str
    status: str
    task: Task


class ApplicationResult(BaseModel):
    application: Application


class OfferResult(BaseModel):
    offer: Offer


TASK_UPDATED = push("task:updated", TaskChange, "A task's status or content changed; to its owner, its contractor and sockets watching it (`task:watch`).")
APPLICATION_RECEIVED = push("application:received", ApplicationResult, "To a task's owner: a contractor applied.")
OFFER_RECEIVED = push("offer:received", OfferResult, "To a contractor: a customer sent an offer (its hold is already placed).")
OFFER_UPDATED = push("offer:updated", OfferResult, "To both parties: an offer was accepted, rejected, cancelled or expired.")


async def task_updated(services, task: dict[str, Any]) -> None:
    view = tasks.public(task)
    await tell(services, tasks.participants(task), TASK_UPDATED, {"taskId": view["id"], "status": view["status"], "task": view},
               rooms=(f"task:{view['id']}",))


async def application_received(services, application: dict[str, Any], task: dict[str, Any]) -> None:
    await tell(services, [str(task["ownerId"])], APPLICATION_RECEIVED, {"application": applications.public(application)})


async def offer_received(services, offer: dict[str, Any]) -> None:
    await tell(services, [str(offer["contractorId"])], OFFER_RECEIVED, {"offer": offers.public(offer)})


async def offer_updated(services, offer: dict[str, Any]) -> None:
    await tell(services, offers.parties(offer), OFFER_UPDATED, {"offer": offers.public(offer)})
