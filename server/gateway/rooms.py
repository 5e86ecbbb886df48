"""The names of Socket.IO rooms (and of the Redis keys presence keeps): the one place a room prefix is spelled.

A socket joins its user's room and, for admins, `ADMINS` at connect; `task:watch` and
`presence:subscribe` add per-socket rooms. Emitting to a list of rooms reaches each socket once.
"""

from bson import ObjectId

ADMINS = "admins"


def user_room(user_id: str | ObjectId) -> str:
    """Every socket of one user, on every server process."""
    return f"user:{user_id}"


def task_room(task_id: str | ObjectId) -> str:
    """Sockets that sent `task:watch` for the task."""
    return f"task:{task_id}"


def presence_room(user_id: str | ObjectId) -> str:
    """Sockets that sent `presence:subscribe` for the user."""
    return f"presence:{user_id}"


PRESENCE_PROCESSES = "presence:processes"
"""Redis: the set of server processes that keep presence counts."""


def presence_counts_key(user_id: str) -> str:
    """Redis: a hash of process → open sockets of the user."""
    return f"presence:user:{user_id}"


def presence_process_users_key(process: str) -> str:
    """Redis: the users one process holds sockets of."""
    return f"presence:process:{process}"


def presence_alive_key(process: str) -> str:
    """Redis: present while the process's heartbeat is fresh."""
    return f"presence:alive:{process}"
