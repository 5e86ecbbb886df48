"""Public profiles: what anyone signed in may see of a user, and the Elite add-ons (résumé, portfolio, social links).

Never the email or anything private. The add-ons are kept on the user whatever the plan and
shown only while Elite is active, so a downgrade hides them and a new subscription brings
them back. A file a shown profile refers to is readable by any signed-in user; no other
file changes visibility.
"""

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import files, payout_accounts, plans, tasks, users, wallets
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.plans import PlanPolicy

FIELD = "profileAddOns"
EMPTY = {"resumeFileId": None, "portfolio": [], "socialLinks": []}


def view(user: dict[str, Any], policy: PlanPolicy) -> dict[str, Any]:
    tier = plans.tier_of(user, policy)
    add_ons = {**EMPTY, **(user.get(FIELD) or {})}
    return {
        "id": str(user["_id"]), "name": user["name"], "bio": user.get("bio", ""), "skills": user.get("skills", []), "role": user["role"],
        "plan": tier, "badges": ["verified"] if tier == plans.ELITE else [],
        "identityVerified": payout_accounts.identity_verified(user), "memberSince": user["createdAt"].isoformat(),
        "completedTasks": user.get("completedTasks", 0), "addOns": add_ons if tier == plans.ELITE else None,
    }  # fmt: skip


async def public(db: Database, user_id: str, policy: PlanPolicy) -> dict[str, Any]:
    return view(await users.get(db, user_id), policy)


async def admin_view(db: Database, user_id: str, policy: PlanPolicy) -> dict[str, Any]:
    """What the admin dashboard shows of one user: account, public profile, plan, wallet, payouts, freeze."""
    user = await users.get(db, user_id)
    try:
        wallet = await wallets.summary(db, None, user["_id"])
    except AppError:
        wallet = None
    subscription = user.get("subscription") or {}
    return {
        "user": users.public(user), "profile": view(user, policy), "plan": plans.view(user, policy, await tasks.usage(db, user["_id"])),
        "subscriptionId": subscription.get("id"), "stripeCustomerId": user.get("stripeCustomerId"), "frozen": bool(user.get("frozen")),
        "wallet": wallet, "payouts": await payout_accounts.of_user(db, None, user["_id"]),
    }  # fmt: skip


async def admin_search(db: Database, text: str | None, tier: str | None, policy: PlanPolicy, *, page: int, limit: int) -> dict[str, Any]:
    found, pagination = await users.search(db, text, plans.tier_filter(tier, policy) if tier else {}, page=page, limit=limit)
    rows = [
        {"id": str(user["_id"]), "name": user["name"], "email": user["email"], "role": user["role"],
         "plan": plans.tier_of(user, policy), "frozen": bool(user.get("frozen")),
         "createdAt": user["createdAt"].isoformat()}
        for user in found
    ]  # fmt: skip
    return {"users": rows, "pagination": pagination}


async def update_add_ons(db: Database, user_id: str, changes: dict[str, Any], policy: PlanPolicy) -> dict[str, Any]:
    """Elite only (`plan_required`). The résumé must be a PDF the caller uploaded; portfolio files the caller's uploads."""
    key = object_id(user_id, "user")

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        user = await plans.guard(db, session, key)
        if plans.tier_of(user, policy) != plans.ELITE:
            raise AppError("plan_required", "Profile add-ons come with the Elite plan.", {"plan": plans.ELITE})
        stored: dict[str, Any] = {}
        if "resumeFileId" in changes:
            resume = changes["resumeFileId"]
            stored["resumeFileId"] = resume and (await files.owned_pdf(db, session, resume, user_id))
        if "portfolio" in changes:
            stored["portfolio"] = [
                item | {"fileIds": [str(found) for found in await files.owned_by(db, session, item.get("fileIds", []), user_id)]}
                for item in changes["portfolio"]
            ]
        if "socialLinks" in changes:
            stored["socialLinks"] = changes["socialLinks"]
        return await db[users.COLLECTION].find_one_and_update(
            {"_id": key},
            {"$set": {f"{FIELD}.{name}": value for name, value in stored.items()}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )

    return view(await db.transaction(work), policy)


async def shows_file(db: Database, file_id: ObjectId, policy: PlanPolicy) -> bool:
    """Whether a profile that is shown (its owner is Elite now) refers to the file."""
    referring = db[users.COLLECTION].find(
        {"$or": [{f"{FIELD}.resumeFileId": str(file_id)}, {f"{FIELD}.portfolio.fileIds": str(file_id)}]}, {"subscription": 1}
    )
    return any([plans.tier_of(user, policy) == plans.ELITE async for user in referring])
