"""What handlers may use, bundled once at start-up and handed to every event."""

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import socketio

from models.accounts import Accounts
from models.db import Database
from server.config import Settings


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    accounts: Accounts
    sio: socketio.AsyncServer
    redis: aioredis.Redis | None

    async def emit_to_user(self, user_id: str, event: str, data: Any) -> None:
        """Reaches every socket of the user, on every server process (through Redis when configured)."""
        await self.sio.emit(event, data, room=f"user:{user_id}")
