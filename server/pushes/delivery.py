"""The one way to push: a declared push goes to users (all their sockets) and/or rooms, stored first when declared `stored`.

Callers push after their transaction committed, so a push never announces something that
was rolled back. Each socket gets a push once, even when it is in several of the rooms.
"""

from collections.abc import Iterable
from typing import Any

from bson import ObjectId

from models import notifications
from server.gateway.events import Push
from server.gateway.rooms import user_room


async def deliver(services, push: Push, data: dict[str, Any], *, users: Iterable[str | ObjectId] = (), rooms: Iterable[str] = ()) -> None:
    """`users` get it on every socket, on every server process; `rooms` are any other rooms (a task's watchers, admins, a socket)."""
    users = [str(user) for user in users]
    if push.stored and users:
        await notifications.store(services.db, users, push.name, data)
    targets = [user_room(user) for user in users] + list(rooms)
    if targets:
        await services.sio.emit(push.name, data, room=targets)
