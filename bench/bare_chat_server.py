"""The baseline for the chat benchmark: python-socketio broadcasting to rooms, nothing else.

A client names its rooms in the connect `auth` (`{"rooms": [...]}`); `chat:send` emits
`chat:message` to the room and acks. No auth, no storage, no sequence numbers.
"""

import os

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)


@sio.event
async def connect(sid, environ, auth):
    for room in (auth or {}).get("rooms", []):
        await sio.enter_room(sid, room)


@sio.on("chat:send")
async def send(sid, data):
    message = {"roomId": data["roomId"], "text": data["text"], "senderId": sid}
    await sio.emit("chat:message", {"message": message}, room=data["roomId"])
    return {"ok": True, "data": {"message": message}}


if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None, access_log=None)
