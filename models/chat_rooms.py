"""Chat rooms: one direct room per pair of users, group rooms, and a room per accepted task.

A room keeps its members, its last sequence number and last message (for the room list),
and each member's read marker (`reads.<userId>`, moved forward only with `$max`). A
direct room's `pairKey` is unique, so two users opening it at the same moment get one
room; group and task rooms get a unique `pairKey` of their own.
"""

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from models import blocks, client_requests, clock, roles, users
from models.client_requests import ClientRequest
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.pages import page_of

COLLECTION = "chat_rooms"
MAX_MEMBERS = 100


def public(room: dict[str, Any], viewer: str) -> dict[str, Any]:
    last = room.get("lastMessage")
    return {
        "id": str(room["_id"]),
        "kind": room["kind"],
        "name": room.get("name"),
        "memberIds": [str(m) for m in room["members"]],
        "createdBy": str(room["createdBy"]) if room.get("createdBy") else None,
        "taskId": str(room["taskId"]) if room.get("taskId") else None,
        "lastSeq": room["lastSeq"],
        "lastMessage": last,
        "unreadCount": max(room["lastSeq"] - room.get("reads", {}).get(viewer, 0), 0),
        "createdAt": room["createdAt"].isoformat(),
    }


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index("pairKey", unique=True)
    await db[COLLECTION].create_index([("members", 1), ("lastActivityAt", -1)])
    await client_requests.ensure_index(db, COLLECTION)


def _new(kind: str, members: list[ObjectId], pair_key: str, **fields: Any) -> dict[str, Any]:
    now = clock.now()
    return {
        "kind": kind,
        "members": members,
        "pairKey": pair_key,
        "lastSeq": 0,
        "lastMessage": None,
        "reads": {},
        "blockedBy": [],
        "lastActivityAt": now,
        "createdAt": now,
        **fields,
    }


def _direct_pair_key(first: str | ObjectId, second: str | ObjectId) -> str:
    """The unique key of two users' direct room, whoever opens it."""
    low, high = sorted([ObjectId(first), ObjectId(second)])
    return f"direct:{low}:{high}"


async def open_direct(db: Database, caller: str, other: str) -> tuple[dict[str, Any], bool]:
    """`(room, created?)`: the pair's one direct room, made now if it did not exist."""
    target = await users.get(db, other)
    if str(target["_id"]) == caller:
        raise AppError(
            "invalid_request", "A direct room needs another user.", {"fields": [{"field": "userId", "message": "is you", "type": "value_error"}]}
        )
    pair = sorted([ObjectId(caller), target["_id"]])
    pair_key = _direct_pair_key(*pair)

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], bool]:
        if await blocks.between(db, session, caller, target["_id"]):
            raise AppError("blocked", "You cannot open a room with this user.")
        made = await db[COLLECTION].update_one(
            {"pairKey": pair_key}, {"$setOnInsert": {"_id": ObjectId(), **_new("direct", pair, pair_key)}}, upsert=True, session=session
        )
        return await db[COLLECTION].find_one({"pairKey": pair_key}, session=session), made.upserted_id is not None

    try:
        return await db.transaction(work)
    except DuplicateKeyError:
        return await db[COLLECTION].find_one({"pairKey": pair_key}), False


async def create_group(
    db: Database, creator: str, name: str, member_ids: list[str], request: ClientRequest | None = None
) -> tuple[dict[str, Any], bool]:
    """`(room, created?)`: a retried request gets the room it made."""
    members = await _existing_users(db, [creator, *member_ids])
    room_id = ObjectId()
    room = {"_id": room_id, **_new("group", members, f"group:{room_id}", name=name, createdBy=ObjectId(creator)), **client_requests.stamp(request)}

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        await _refuse_blockers(db, session, creator, members)
        await db[COLLECTION].insert_one(room, session=session)
        return room

    return await client_requests.create_once(db, COLLECTION, request, work)


async def open_for_task(db: Database, session: AsyncClientSession, task: dict[str, Any]) -> dict[str, Any] | None:
    """Called in the transaction that accepts the task's offer; the room if it was made now (to be announced), else None."""
    pair_key = f"task:{task['_id']}"  # the room's stored unique key (like `direct:…` and `group:…`), not a socket room
    room = {"_id": ObjectId(), **_new("task", [task["ownerId"], task["contractorId"]], pair_key, taskId=task["_id"], name=task["title"])}
    made = await db[COLLECTION].update_one({"pairKey": pair_key}, {"$setOnInsert": room}, upsert=True, session=session)
    return room if made.upserted_id is not None else None


async def member_room(db: Database, session: AsyncClientSession | None, room_id: str | ObjectId, user_id: str) -> dict[str, Any]:
    """The room, if the user is in it; `forbidden` for rooms they are not in, `not_found` for none."""
    room = await db[COLLECTION].find_one({"_id": object_id(room_id, "room")}, session=session)
    if room is None:
        raise AppError("not_found", "No such room.")
    if ObjectId(user_id) not in room["members"]:
        raise AppError("forbidden", "You are not a member of this room.")
    return room


async def number_message(db: Database, session: AsyncClientSession, message: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """Give `message` the room's next `seq`, make it the room's last message and move the sender's marker to it.

    One update does it all, and its filter is the permission check: the sender must be a
    member and a direct room must not be blocked. Returns the room after the update;
    `view` is the message as members see it, whose `seq` the update fills in.
    """
    sender = message["senderId"]
    room = await db[COLLECTION].find_one_and_update(
        {"_id": message["roomId"], "members": sender, "blockedBy.0": {"$exists": False}},
        [
            {"$set": {"lastSeq": {"$add": ["$lastSeq", 1]}, "lastActivityAt": message["createdAt"]}},
            {"$set": {f"reads.{sender}": "$lastSeq", "lastMessage": {"$mergeObjects": [{"$literal": view}, {"seq": "$lastSeq"}]}}},
        ],
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if room is None:
        await member_room(db, session, message["roomId"], str(sender))
        raise AppError("blocked", "You cannot send messages to this user.")
    return room


async def change_members(db: Database, room_id: str, caller: str, *, add: list[str] = (), remove: list[str] = ()) -> dict[str, Any]:
    """Only the creator of a group room adds or removes; members leave with `leave`."""
    room = await member_room(db, None, room_id, caller)
    if room["kind"] != "group" or str(room["createdBy"]) != caller:
        raise AppError("forbidden", "Only the creator of a group room changes its members.")
    added = await _existing_users(db, list(add)) if add else []
    removed = [object_id(user, "user") for user in remove if user != caller]
    if len(set(room["members"]) | set(added)) > MAX_MEMBERS:
        raise AppError(
            "invalid_request",
            f"A room has at most {MAX_MEMBERS} members.",
            {"fields": [{"field": "userIds", "message": "too many members", "type": "too_long"}]},
        )
    return await _update_members(db, room["_id"], added, removed, adder=caller)


async def leave(db: Database, room_id: str, caller: str) -> dict[str, Any]:
    room = await member_room(db, None, room_id, caller)
    if room["kind"] != "group":
        raise AppError("invalid_state", "Only group rooms can be left.", {"status": room["kind"]})
    return await _update_members(db, room["_id"], [], [ObjectId(caller)])


async def _update_members(
    db: Database, room_id: ObjectId, added: list[ObjectId], removed: list[ObjectId], *, adder: str | None = None
) -> dict[str, Any]:
    async def work(session: AsyncClientSession) -> dict[str, Any]:
        if added:
            await _refuse_blockers(db, session, adder, added)
            await db[COLLECTION].update_one({"_id": room_id}, {"$addToSet": {"members": {"$each": added}}}, session=session)
        if removed:
            await db[COLLECTION].update_one({"_id": room_id}, {"$pull": {"members": {"$in": removed}}}, session=session)
        return await db[COLLECTION].find_one({"_id": room_id}, session=session)

    return await db.transaction(work)


async def listing(db: Database, user_id: str, *, page: int, limit: int) -> dict[str, Any]:
    found, pagination = await page_of(
        db[COLLECTION], {"members": ObjectId(user_id)}, sort=[("lastActivityAt", -1), ("_id", -1)], page=page, limit=limit
    )
    return {"rooms": [public(room, user_id) for room in found], "pagination": pagination}


async def mark_read(db: Database, room_id: str, user_id: str, seq: int) -> tuple[dict[str, Any], int]:
    """Move the caller's marker forward to `seq` (capped at the room's last message); never back. Returns the marker."""
    room = await member_room(db, None, room_id, user_id)
    target = min(seq, room["lastSeq"])
    updated = await db.transaction(
        lambda session: db[COLLECTION].find_one_and_update(
            {"_id": room["_id"]},
            {"$max": {f"reads.{user_id}": target}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
    )
    return updated, updated["reads"].get(user_id, 0)


async def block(db: Database, blocker: str, blocked: str) -> None:
    """Record the block and mirror it onto the pair's direct room (`blockedBy`), which `number_message` checks."""
    target = object_id(blocked, "user")

    async def work(session: AsyncClientSession) -> None:
        await blocks.record(db, session, blocker, target)
        await db[COLLECTION].update_one(
            {"pairKey": _direct_pair_key(blocker, target)}, {"$addToSet": {"blockedBy": ObjectId(blocker)}}, session=session
        )

    await db.transaction(work)


async def unblock(db: Database, blocker: str, blocked: str) -> None:
    """Lift the caller's block; the room stays blocked while the other user's block stands."""
    target = object_id(blocked, "user")

    async def work(session: AsyncClientSession) -> None:
        await blocks.lift(db, session, blocker, target)
        await db[COLLECTION].update_one({"pairKey": _direct_pair_key(blocker, target)}, {"$pull": {"blockedBy": ObjectId(blocker)}}, session=session)

    await db.transaction(work)


async def require_presence_visible(db: Database, user_id: str, role: str, others: list[str]) -> None:
    """Who is online is the business of the people one chats with (and of admins): `forbidden` for anyone else,
    and for anyone who blocked the caller."""
    if roles.is_admin(role):
        return
    wanted = [object_id(other, "user") for other in others]
    rooms = await db[COLLECTION].find({"$and": [{"members": ObjectId(user_id)}, {"members": {"$in": wanted}}]}, {"members": 1}).to_list()
    shared = {str(member) for room in rooms for member in room["members"]}
    blockers = {str(blocker) for blocker in await blocks.blockers_of(db, None, user_id, wanted)}
    hidden = [other for other in others if other not in shared or other in blockers]
    if hidden:
        raise AppError("forbidden", "You can watch only users you share a room with (and who have not blocked you).", {"userIds": hidden})


async def audience(db: Database, room: dict[str, Any], sender: str | ObjectId) -> list[ObjectId]:
    """The members a sender's message (or typing) reaches: in group and task rooms, not those who blocked the sender.

    Their messages are still stored, and a blocker who unblocks sees them in history; a
    direct room with a block in it takes no messages at all (`number_message`).
    """
    if room["kind"] == "direct":
        return list(room["members"])
    blockers = await blocks.blockers_of(db, None, sender, [member for member in room["members"] if str(member) != str(sender)])
    return [member for member in room["members"] if member not in blockers]


async def _refuse_blockers(db: Database, session: AsyncClientSession, adder: str, candidates: list[ObjectId]) -> None:
    if await blocks.blockers_of(db, session, adder, [user for user in candidates if str(user) != adder]):
        raise AppError("blocked", "Someone you are adding has blocked you.")


async def _existing_users(db: Database, user_ids: list[str]) -> list[ObjectId]:
    wanted = list(dict.fromkeys(object_id(user, "user") for user in user_ids))
    if len(wanted) > MAX_MEMBERS:
        raise AppError(
            "invalid_request",
            f"A room has at most {MAX_MEMBERS} members.",
            {"fields": [{"field": "memberIds", "message": "too many members", "type": "too_long"}]},
        )
    if await db[users.COLLECTION].count_documents({"_id": {"$in": wanted}}) != len(wanted):
        raise AppError("not_found", "No such user.")
    return wanted
