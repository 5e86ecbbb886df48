"""The baseline: a bare python-socketio server with the same settings and no auth or database."""

import os
from datetime import UTC, datetime

import socketio
from aiohttp import web

from server.app import MAX_SOCKET_MESSAGE_BYTES

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", max_http_buffer_size=MAX_SOCKET_MESSAGE_BYTES)
app = web.Application()
sio.attach(app)


@sio.on("sys:ping")
async def ping(sid, data):
    return {"ok": True, "data": {"serverTime": datetime.now(UTC).isoformat()}}


if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None, access_log=None)
