"""Chat through real sockets: rooms, membership, blocks, delivery, ordering, history, sync, receipts, typing, limits."""

import asyncio

from tests.conftest import call, connect
from tests.money import Pushes, admin_socket, error_code, ok, user_socket
from tests.servers import ServerProcess


async def test_a_pair_gets_one_room_and_each_socket_gets_each_message_once(server):
    (alice, alice_phone), (bob, bob_phone) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    bob_tablet = await connect(server.url, bob["accessToken"])
    opened = await asyncio.gather(
        ok(alice_phone, "chat:open", {"userId": bob["user"]["id"]}), ok(bob_phone, "chat:open", {"userId": alice["user"]["id"]})
    )
    assert opened[0]["room"]["id"] == opened[1]["room"]["id"]
    room = opened[0]["room"]
    heard = {name: Pushes(client, "chat:message") for name, client in (("alice", alice_phone), ("phone", bob_phone), ("tablet", bob_tablet))}
    sent = (await ok(alice_phone, "chat:send", {"roomId": room["id"], "text": "  Hi Bob  ", "clientMsgId": "m-1"}))["message"]
    assert (sent["text"], sent["seq"], sent["senderId"]) == ("Hi Bob", 1, alice["user"]["id"])
    again = (await ok(alice_phone, "chat:send", {"roomId": room["id"], "text": "Hi Bob", "clientMsgId": "m-1"}))["message"]
    assert again == sent
    listed = (await ok(bob_phone, "chat:rooms"))["rooms"]
    assert [(r["lastSeq"], r["lastMessage"]) for r in listed] == [(1, sent)]
    for pushes in heard.values():
        assert (await pushes.next("chat:message"))["message"] == sent
    await asyncio.sleep(0.3)
    assert all(pushes.queues["chat:message"].empty() for pushes in heard.values())
    assert await error_code(alice_phone, "chat:send", {"roomId": room["id"], "text": "   ", "clientMsgId": "m-2"}) == "invalid_request"
    assert await error_code(alice_phone, "chat:send", {"roomId": room["id"], "text": "x" * 4_001, "clientMsgId": "m-3"}) == "invalid_request"
    assert await error_code(alice_phone, "chat:open", {"userId": alice["user"]["id"]}) == "invalid_request"
    await asyncio.gather(*(c.disconnect() for c in (alice_phone, bob_phone, bob_tablet)))


async def test_only_members_read_or_write_and_only_the_creator_manages_a_group(server):
    (owner, owner_c), (member, member_c), (outsider, outsider_c) = [await user_socket(server.url, "customer") for _ in range(3)]
    room = (await ok(owner_c, "chat:create", {"name": "Crew", "memberIds": [member["user"]["id"]]}))["room"]
    assert set(room["memberIds"]) == {owner["user"]["id"], member["user"]["id"]}
    for event, payload in [
        ("chat:send", {"roomId": room["id"], "text": "hi", "clientMsgId": "o1"}),
        ("chat:history", {"roomId": room["id"]}),
        ("chat:read", {"roomId": room["id"], "seq": 1}),
        ("chat:typing", {"roomId": room["id"]}),
        ("chat:sync", {"rooms": [{"roomId": room["id"], "afterSeq": 0}]}),
    ]:
        assert await error_code(outsider_c, event, payload) == "forbidden", event
    assert await error_code(member_c, "chat:members:add", {"roomId": room["id"], "userIds": [outsider["user"]["id"]]}) == "forbidden"
    changes, member_view = Pushes(outsider_c, "chat:room"), Pushes(member_c, "chat:room")
    await ok(owner_c, "chat:members:add", {"roomId": room["id"], "userIds": [outsider["user"]["id"]]})
    assert outsider["user"]["id"] in (await changes.next("chat:room"))["room"]["memberIds"]
    await ok(outsider_c, "chat:send", {"roomId": room["id"], "text": "thanks", "clientMsgId": "o2"})
    assert (await member_view.next("chat:room"))["room"]["unreadCount"] == 0
    await ok(owner_c, "chat:members:remove", {"roomId": room["id"], "userIds": [outsider["user"]["id"]]})
    removed = (await changes.next("chat:room"))["room"]
    assert outsider["user"]["id"] not in removed["memberIds"]
    assert (removed["unreadCount"], (await member_view.next("chat:room"))["room"]["unreadCount"]) == (0, 1)
    assert await error_code(outsider_c, "chat:send", {"roomId": room["id"], "text": "still here?", "clientMsgId": "o3"}) == "forbidden"
    await ok(member_c, "chat:leave", {"roomId": room["id"]})
    assert await error_code(member_c, "chat:history", {"roomId": room["id"]}) == "forbidden"
    assert await error_code(owner_c, "chat:create", {"name": "Ghosts", "memberIds": ["f" * 24]}) == "not_found"
    await asyncio.gather(*(c.disconnect() for c in (owner_c, member_c, outsider_c)))


async def test_a_block_stops_a_direct_room_both_ways_until_lifted(server):
    (alice, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
    await ok(alice_c, "chat:block", {"userId": bob["user"]["id"]})
    assert await error_code(bob_c, "chat:open", {"userId": alice["user"]["id"]}) == "blocked"
    assert await error_code(bob_c, "chat:send", {"roomId": room["id"], "text": "hey", "clientMsgId": "b1"}) == "blocked"
    assert await error_code(alice_c, "chat:send", {"roomId": room["id"], "text": "hey", "clientMsgId": "a1"}) == "blocked"
    await ok(alice_c, "chat:unblock", {"userId": bob["user"]["id"]})
    assert (await ok(bob_c, "chat:send", {"roomId": room["id"], "text": "hey", "clientMsgId": "b1"}))["message"]["seq"] == 1
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())


async def test_concurrent_senders_get_distinct_increasing_seqs_and_pushes_arrive_in_order(server):
    people = [await user_socket(server.url, "customer") for _ in range(3)]
    (_, owner_c), others = people[0], people[1:]
    room = (await ok(owner_c, "chat:create", {"name": "Busy", "memberIds": [session["user"]["id"] for session, _ in others]}))["room"]
    listeners = [Pushes(client, "chat:message") for _, client in people]

    async def burst(client, name):
        return [
            (await ok(client, "chat:send", {"roomId": room["id"], "text": f"{name} {i}", "clientMsgId": f"{name}-{i}"}))["message"]["seq"]
            for i in range(8)
        ]

    seqs = await asyncio.gather(*(burst(client, str(index)) for index, (_, client) in enumerate(people)))
    assert sorted(seq for each in seqs for seq in each) == list(range(1, 25))
    for pushes in listeners:
        received = [(await pushes.next("chat:message"))["message"]["seq"] for _ in range(24)]
        assert received == list(range(1, 25))
    await asyncio.gather(*(client.disconnect() for _, client in people))


async def test_history_pages_backwards_and_sync_returns_what_a_disconnected_client_missed(server):
    (_, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
    for i in range(25):
        await ok(alice_c, "chat:send", {"roomId": room["id"], "text": f"m{i + 1}", "clientMsgId": f"h{i}"})
    newest = (await ok(bob_c, "chat:history", {"roomId": room["id"], "limit": 10}))["messages"]
    assert [m["seq"] for m in newest] == list(range(16, 26))
    older = (await ok(bob_c, "chat:history", {"roomId": room["id"], "before": 16, "limit": 10}))["messages"]
    assert [m["seq"] for m in older] == list(range(6, 16))
    assert [m["seq"] for m in (await ok(bob_c, "chat:history", {"roomId": room["id"], "before": 6}))["messages"]] == [1, 2, 3, 4, 5]
    assert await error_code(bob_c, "chat:history", {"roomId": room["id"], "limit": 101}) == "invalid_request"

    await bob_c.disconnect()
    for i in range(5):
        await ok(alice_c, "chat:send", {"roomId": room["id"], "text": f"while away {i}", "clientMsgId": f"w{i}"})
    bob_c = await connect(server.url, bob["accessToken"])
    synced = (await ok(bob_c, "chat:sync", {"rooms": [{"roomId": room["id"], "afterSeq": 25}]}))["rooms"]
    assert [(m["seq"], m["text"]) for m in synced[0]["messages"]] == [(26 + i, f"while away {i}") for i in range(5)]
    assert synced[0]["hasMore"] is False
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())


async def test_read_markers_only_move_forward_and_drive_unread_counts(server):
    (_, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
    for i in range(6):
        await ok(alice_c, "chat:send", {"roomId": room["id"], "text": f"$lastSeq {i}", "clientMsgId": f"r{i}"})
    receipts = Pushes(alice_c, "chat:read")
    listed = (await ok(bob_c, "chat:rooms"))["rooms"]
    assert [(r["id"], r["unreadCount"], r["lastMessage"]["text"], r["lastMessage"]["seq"]) for r in listed] == [(room["id"], 6, "$lastSeq 5", 6)]
    assert (await ok(bob_c, "chat:read", {"roomId": room["id"], "seq": 4}))["seq"] == 4
    assert await receipts.next("chat:read") == {"roomId": room["id"], "userId": bob["user"]["id"], "seq": 4}
    assert (await ok(bob_c, "chat:read", {"roomId": room["id"], "seq": 2}))["seq"] == 4
    assert (await ok(bob_c, "chat:rooms"))["rooms"][0]["unreadCount"] == 2
    assert (await ok(bob_c, "chat:read", {"roomId": room["id"], "seq": 999}))["seq"] == 6
    assert (await ok(alice_c, "chat:rooms"))["rooms"][0]["unreadCount"] == 0
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())


async def test_typing_reaches_the_others_and_is_rate_limited(server):
    (alice, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
    typing = Pushes(bob_c, "chat:typing")
    mine = Pushes(alice_c, "chat:typing")
    await ok(alice_c, "chat:typing", {"roomId": room["id"]})
    assert await typing.next("chat:typing") == {"roomId": room["id"], "userId": alice["user"]["id"]}
    answer = await call(alice_c, "chat:typing", {"roomId": room["id"]})
    assert answer["error"]["code"] == "rate_limited" and answer["error"]["details"]["retryAfter"] >= 1
    await asyncio.sleep(0.2)
    assert mine.queues["chat:typing"].empty()
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())


async def test_presence_is_for_people_you_share_a_room_with_and_follows_the_last_socket(server):
    (_, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    bob_id = bob["user"]["id"]
    refused = await call(alice_c, "presence:subscribe", {"userIds": [bob_id]})
    assert (refused["error"]["code"], refused["error"]["details"]) == ("forbidden", {"userIds": [bob_id]})
    admin = await admin_socket(server.url)
    assert (await ok(admin, "presence:subscribe", {"userIds": [bob_id]}))["online"] == {bob_id: True}
    await ok(alice_c, "chat:open", {"userId": bob_id})
    presence = Pushes(alice_c, "presence")
    assert (await ok(alice_c, "presence:subscribe", {"userIds": [bob_id]}))["online"] == {bob_id: True}
    bob_tablet = await connect(server.url, bob["accessToken"])
    await bob_c.disconnect()
    await bob_tablet.disconnect()
    assert await presence.next("presence") == {"userId": bob_id, "online": False}
    bob_c = await connect(server.url, bob["accessToken"])
    assert await presence.next("presence") == {"userId": bob_id, "online": True}
    await asyncio.sleep(0.2)
    assert presence.queues["presence"].empty()
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect(), admin.disconnect())


async def test_a_flooding_sender_is_rate_limited(server):
    (_, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
    answers = [await call(alice_c, "chat:send", {"roomId": room["id"], "text": "spam", "clientMsgId": f"s{i}"}) for i in range(31)]
    assert all(answer["ok"] for answer in answers[:30])
    assert answers[30]["error"]["code"] == "rate_limited"
    assert (await ok(bob_c, "chat:send", {"roomId": room["id"], "text": "still fine", "clientMsgId": "b"}))["message"]["seq"] == 31
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())


async def test_edits_and_deletes_are_the_authors_and_reach_the_room(server):
    (_, alice_c), (bob, bob_c) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
    updates = Pushes(bob_c, "chat:message:updated")
    sent = (await ok(alice_c, "chat:send", {"roomId": room["id"], "text": "tpyo", "clientMsgId": "e1"}))["message"]
    assert await error_code(bob_c, "chat:edit", {"messageId": sent["id"], "text": "mine now"}) == "forbidden"
    edited = (await ok(alice_c, "chat:edit", {"messageId": sent["id"], "text": "typo"}))["message"]
    assert (edited["text"], edited["seq"]) == ("typo", 1) and edited["editedAt"]
    assert (await updates.next("chat:message:updated"))["message"]["text"] == "typo"
    deleted = (await ok(alice_c, "chat:delete", {"messageId": sent["id"]}))["message"]
    assert (deleted["deleted"], deleted["text"]) == (True, "")
    assert await error_code(alice_c, "chat:edit", {"messageId": sent["id"], "text": "back"}) == "invalid_state"
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())


async def test_messages_survive_a_server_restart_and_sync_picks_up_after_it():
    process = ServerProcess().start()
    try:
        (_, alice_c), (bob, bob_c) = await user_socket(process.url, "customer"), await user_socket(process.url, "customer")
        room = (await ok(alice_c, "chat:open", {"userId": bob["user"]["id"]}))["room"]
        for i in range(3):
            await ok(alice_c, "chat:send", {"roomId": room["id"], "text": f"before {i}", "clientMsgId": f"b{i}"})
        await asyncio.gather(alice_c.disconnect(), bob_c.disconnect())
        process.stop()
        process.start()
        bob_c = await connect(process.url, bob["accessToken"])
        synced = (await ok(bob_c, "chat:sync", {"rooms": [{"roomId": room["id"], "afterSeq": 1}]}))["rooms"][0]
        assert [m["text"] for m in synced["messages"]] == ["before 1", "before 2"]
        assert (await ok(bob_c, "chat:send", {"roomId": room["id"], "text": "after", "clientMsgId": "a"}))["message"]["seq"] == 4
        await bob_c.disconnect()
    finally:
        process.remove()
