"""Cancelling a task, with the money put back where it came from.

Before an offer is accepted the customer's money is only held: a pending offer is
withdrawn and its hold released. After acceptance it sits in escrow: `totalCharge` goes
back to the customer's wallet (a `refund`), the offer becomes `refunded`, and a completion
request waiting for approval leaves the queue. Completed tasks cannot be cancelled.
"""

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from models import completions, ledger, offers, roles, tasks
from models.db import Database
from models.errors import AppError


@dataclass(frozen=True, slots=True)
class Cancelled:
    task: dict[str, Any]
    refund_amount: int
    offer: dict[str, Any] | None
    completion: dict[str, Any] | None


async def cancel(db: Database, task_id: str, actor_id: str, role: str, reason: str) -> Cancelled:
    async def work(session: AsyncClientSession) -> Cancelled:
        task = await tasks.get(db, session, task_id)
        if not roles.is_admin(role) and actor_id not in tasks.participants(task):
            raise AppError("forbidden", "Only the task's owner, its assigned contractor or an admin may cancel it.")
        if task["status"] not in tasks.CANCELLABLE:
            raise AppError("invalid_state", f"A {task['status']} task cannot be cancelled.", {"status": task["status"]})
        offer, completion, refund = None, None, 0
        if task["status"] == "open" and task["pendingOfferId"]:
            offer = await offers.withdraw(db, session, task["pendingOfferId"], "cancelled", {}, reason=reason)
        elif task["status"] in tasks.FUNDED:
            offer = await offers.settle(db, session, task["offerId"], "refunded")
            refund = offer["totalCharge"]
            await ledger.post(
                db,
                session,
                key=f"offer-refund:{offer['_id']}",
                type="refund",
                entries=[ledger.Entry(ledger.ESCROW, -refund), ledger.Entry(ledger.wallet(offer["customerId"]), refund)],
                refs={"userId": offer["customerId"], "taskId": task["_id"], "offerId": offer["_id"], "cancelledBy": actor_id},
            )
            completion = await completions.cancel_pending(db, session, task["_id"])
        cancelled = await tasks.move(
            db,
            session,
            task["_id"],
            allowed=(task["status"],),
            changes={
                "status": "cancelled",
                "cancelReason": reason,
                "cancelledBy": actor_id,
                "refundAmount": refund,
                "pendingOfferId": None,
            },
        )
        return Cancelled(cancelled, refund, offer, completion)

    return await db.transaction(work)
