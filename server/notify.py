"""Telling users something: store it as a notification, then push it to their sockets."""

from typing import Any

from models import notifications


async def tell(services, user_ids: list[str], event: str, data: dict[str, Any], *, rooms: tuple[str, ...] = ()) -> None:
    """Each socket in the users' rooms (and in `rooms`) gets the push once, on every server process."""
    await notifications.store(services.db, user_ids, event, data)
    await services.sio.emit(event, data, room=[f"user:{user}" for user in user_ids] + list(rooms))
