"""Embedded mode keeps what it acknowledged through a kill -9 of the server and its engine, at any size, and says when it cannot.

Every test here kills (`ServerProcess.kill_all`: SIGKILL to the server and its engine
process at once) or fills a disk for real; nothing is simulated inside the server.
"""

import asyncio
import os
import signal
import time

import aiohttp
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from server.infra.embedded_mongo import Journal, embedded_mongo
from tests.conftest import call, connect, login, money_server, post, register, send_webhook, stripe_event
from tests.marketplace import PNG, download, upload
from tests.money import Pushes, admin_socket, eventually, funded_contractor, ok, paid_checkout, user_socket
from tests.servers import ServerProcess


async def test_a_deposit_acknowledged_to_stripe_survives_a_kill_9_and_is_credited_once(fake_stripe):
    process = money_server(fake_stripe).start()
    try:
        session, client = await user_socket(process.url, "customer")
        started = await ok(client, "wallet:deposit", {"amount": 5_000})
        event = stripe_event("checkout.session.completed", paid_checkout(started, session["user"]["id"]))
        assert (await send_webhook(process.url, event))[0] == 200
        process.kill_all()
        process.start()
        client = await connect(process.url, session["accessToken"])
        assert (await ok(client, "wallet:get"))["balance"] == 5_000
        assert await send_webhook(process.url, event) == (200, {"ok": True, "data": {"received": True, "duplicate": True}})
        assert (await ok(client, "wallet:get"))["balance"] == 5_000
        assert [t["type"] for t in (await ok(client, "wallet:transactions"))["transactions"]] == ["deposit"]
        await client.disconnect()
        process.audit_clean()
    finally:
        process.remove()


async def test_an_approved_payout_whose_transfer_went_out_is_not_lost_or_paid_twice_after_a_kill_9(fake_stripe):
    process = money_server(fake_stripe, PAYOUT_RESUME_SECONDS="1").start()
    try:
        admin = await admin_socket(process.url)
        session, contractor, account_id = await funded_contractor(process.url, admin, 3_000)
        asked = await ok(contractor, "wallet:withdraw", {"amount": 3_000})
        fake_stripe.hold_next("/v1/transfers")
        approval = asyncio.ensure_future(admin.call("admin:withdrawal:approve", {"requestId": asked["requestId"]}, timeout=30))
        await eventually(lambda: [t for t in fake_stripe.transfers.values() if t["destination"] == account_id], bool, timeout=15)
        process.kill_all()
        fake_stripe.holds.pop("/v1/transfers", None)
        approval.cancel()
        await asyncio.gather(admin.disconnect(), contractor.disconnect(), return_exceptions=True)

        process.start()
        admin = await admin_socket(process.url)
        answer = await call(admin, "admin:withdrawal:approve", {"requestId": asked["requestId"]})
        assert answer["error"]["code"] == "invalid_state" and answer["error"]["details"]["status"] in ("approved", "paid")
        listed = lambda: ok(admin, "admin:withdrawals", {"limit": 100})  # noqa: E731
        settled = await eventually(listed, lambda page: any(r["id"] == asked["requestId"] and r["status"] == "paid" for r in page["requests"]))
        [request] = [r for r in settled["requests"] if r["id"] == asked["requestId"]]
        transfers = [t for t in fake_stripe.transfers.values() if t["destination"] == account_id]
        assert [t["id"] for t in transfers] == [request["transferId"]]
        assert len({call.idempotency_key for call in fake_stripe.calls_to("/v1/transfers", destination=account_id)}) == 1
        contractor = await connect(process.url, session["accessToken"])
        wallet = await ok(contractor, "wallet:get")
        assert (wallet["balance"], wallet["held"], wallet["totalWithdrawals"]) == (0, 0, 3_000)
        await asyncio.gather(admin.disconnect(), contractor.disconnect())
        process.audit_clean()
    finally:
        process.remove()


async def test_a_paid_checkout_whose_webhook_never_came_is_credited_once_by_reconciliation(fake_stripe):
    process = money_server(fake_stripe, RECONCILE_SECONDS="0.5", RECONCILE_MIN_AGE_SECONDS="0").start()
    try:
        _, client = await user_socket(process.url, "customer")
        heard = Pushes(client, "deposit:updated")
        started = await ok(client, "wallet:deposit", {"amount": 2_500})
        fake_stripe.pay(started["sessionId"])
        assert (await heard.next("deposit:updated"))["deposit"] | {"createdAt": None} == {
            "id": started["depositId"], "amount": 2_500, "currency": "usd", "status": "completed",
            "sessionId": started["sessionId"], "createdAt": None,
        }  # fmt: skip
        await asyncio.sleep(1.5)
        assert (await ok(client, "wallet:get"))["balance"] == 2_500
        assert [t["type"] for t in (await ok(client, "wallet:transactions"))["transactions"]] == ["deposit"]
        expiring = await ok(client, "wallet:deposit", {"amount": 1_000})
        fake_stripe.expire(expiring["sessionId"])
        assert (await heard.next("deposit:updated"))["deposit"]["status"] == "failed"
        await client.disconnect()
        process.audit_clean()
    finally:
        process.remove()


async def test_the_reconcile_command_reports_a_transfer_our_books_do_not_know_and_exits_1(fake_stripe):
    process = money_server(fake_stripe)
    try:
        first = process.run_cli("reconcile")
        assert first.returncode == 0 and "books agree with Stripe" in first.stdout, first.stdout + first.stderr
        stray = fake_stripe.transfer_outside_our_books(process.env["STRIPE_SECRET_KEY"], 7_700, f"payout:{ObjectId()}")
        found = process.run_cli("reconcile")
        assert found.returncode == 1 and f"unknown_transfer: {stray['id']} (7700 usd)" in found.stdout, found.stdout + found.stderr
        again = process.run_cli("reconcile")
        assert again.returncode == 1 and stray["id"] not in again.stdout and "items open for the admins: 1" in again.stdout

        process.start()
        admin = await admin_socket(process.url)
        [item] = (await ok(admin, "admin:reconciliations", {"status": "open"}))["items"]
        assert (item["kind"], item["transferId"], item["amount"]) == ("unknown_transfer", stray["id"], 7_700)
        queue = Pushes(admin, "admin:queue")
        await ok(admin, "admin:reconciliation:resolve", {"itemId": item["id"], "note": "A test transfer made by hand in the dashboard."})
        assert (await queue.next("admin:queue"))["request"]["status"] == "resolved"
        await admin.disconnect()
        process.stop()
        assert process.run_cli("reconcile").returncode == 0
        assert [t for t in fake_stripe.transfers.values() if t["destination"] == "acct_elsewhere" and t["amount"] == 7_700] == [stray]
    finally:
        process.remove()


async def test_nothing_acknowledged_is_lost_when_server_and_engine_are_killed_right_after():
    process = ServerProcess().start()
    try:
        people = [await register(process.url) for _ in range(12)]
        alice, bob = people[0], people[1]
        alice_socket = await connect(process.url, alice["accessToken"])
        room = (await ok(alice_socket, "chat:open", {"userId": bob["user"]["id"]}))["room"]
        sent = [(await ok(alice_socket, "chat:send", {"roomId": room["id"], "text": f"m{i}", "clientMsgId": f"k{i}"}))["message"] for i in range(20)]
        await ok(alice_socket, "me:update", {"bio": "the last thing acknowledged"})
        process.kill_all()

        process.start()
        for person in people:
            assert (await login(process.url, person["user"]["email"], person["password"]))["user"]["id"] == person["user"]["id"]
        bob_socket = await connect(process.url, bob["accessToken"])
        [synced] = (await ok(bob_socket, "chat:sync", {"rooms": [{"roomId": room["id"], "afterSeq": 0}]}))["rooms"]
        assert synced["messages"] == sent
        assert (await ok(bob_socket, "chat:open", {"userId": alice["user"]["id"]}))["room"]["id"] == room["id"]
        alice_socket = await connect(process.url, alice["accessToken"])
        assert (await ok(alice_socket, "me:get"))["user"]["bio"] == "the last thing acknowledged"
        await asyncio.gather(alice_socket.disconnect(), bob_socket.disconnect())
        process.audit_clean()
    finally:
        process.remove()


async def test_60_mb_of_uploads_and_everything_after_them_survive_restarts():
    process = ServerProcess(env={"MAX_UPLOAD_BYTES": str(25 * 1024 * 1024), "SNAPSHOT_INTERVAL_SECONDS": "1"}).start()
    try:
        owner = await register(process.url)
        blobs = [PNG + os.urandom(20 * 1024 * 1024) for _ in range(3)]
        stored = []
        for blob in blobs:
            status, answer = await upload(process.url, owner["accessToken"], blob)
            assert status == 201, answer
            stored.append(answer["data"]["fileId"])
        later = await register(process.url)
        snapshot = process.data_dir / "snapshot.bson"
        await eventually(lambda: snapshot.exists() and snapshot.stat().st_size > 60 * 1024 * 1024, bool, timeout=30)
        process.kill_all()
        process.start()
        after_kill = await register(process.url)
        assert process.stop() == 0
        process.start()
        token = (await login(process.url, owner["user"]["email"], owner["password"]))["accessToken"]
        for file_id, blob in zip(stored, blobs, strict=True):
            assert await download(process.url, token, file_id) == (200, blob)
        for person in (later, after_kill):
            assert (await login(process.url, person["user"]["email"], person["password"]))["user"]["id"] == person["user"]["id"]
    finally:
        process.remove()


async def test_a_disk_that_refuses_writes_turns_readyz_to_503_and_writes_are_refused_not_acknowledged(fake_stripe):
    process = money_server(fake_stripe, MAX_UPLOAD_BYTES=str(4 * 1024 * 1024))
    process.max_file_bytes = 6 * 1024 * 1024
    process.start()
    try:
        payer_session, payer = await user_socket(process.url, "customer")
        started = await ok(payer, "wallet:deposit", {"amount": 4_000})
        owner = await register(process.url)
        assert (await upload(process.url, owner["accessToken"], PNG + os.urandom(3 * 1024 * 1024)))[0] == 201
        status, answer = await upload(process.url, owner["accessToken"], PNG + os.urandom(3 * 1024 * 1024))
        assert (status, answer["error"]["code"]) == (503, "persistence_unavailable")
        async with aiohttp.ClientSession() as http:
            async with http.get(process.url + "/readyz") as response:
                ready = await response.json()
        assert response.status == 503 and ready["error"]["details"]["checks"]["persistence"] is False
        assert "journal" in ready["error"]["details"]["reason"]
        status, answer = await post(
            process.url, "/api/auth/register", {"name": "Late", "email": "late@example.com", "password": "password1", "role": "customer"}
        )
        assert (status, answer["error"]["code"]) == (503, "persistence_unavailable")
        paid = stripe_event("checkout.session.completed", paid_checkout(started, payer_session["user"]["id"]))
        status, answer = await send_webhook(process.url, paid)
        assert (status, answer["error"]["code"]) == (503, "persistence_unavailable")  # Stripe will deliver it again later
        assert (await ok(payer, "wallet:get"))["balance"] == 0
        await payer.disconnect()
        failing = lambda: [line for line in process.log_path.read_text().splitlines() if "embedded persistence is failing" in line]  # noqa: E731
        await eventually(failing, bool, timeout=15)
        await asyncio.sleep(6)
        assert len(failing()) == 1
    finally:
        process.remove()


async def test_shutdown_is_bounded_under_3000_queued_writes_and_a_second_sigterm_loses_nothing_acknowledged():
    process = ServerProcess(env={"SHUTDOWN_TIMEOUT_SECONDS": "3", "WRITES_PER_SECOND": "100000", "WRITES_PER_MINUTE": "1000000"}).start()
    try:
        session, client = await user_socket(process.url, "customer")
        acked: list[str] = []

        async def create(index: int) -> None:
            try:
                answer = await client.call("task:create", {"title": f"Task {index}", "description": "queued", "budget": 100}, timeout=60)
            except Exception:
                return
            if answer.get("ok"):
                acked.append(answer["data"]["task"]["id"])

        writers = [asyncio.ensure_future(create(index)) for index in range(3_000)]
        await eventually(lambda: len(acked), lambda count: count >= 100, timeout=60)
        started = time.monotonic()
        process.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        process.process.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, process.process.wait, 30)
        assert time.monotonic() - started <= 3 + 2
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        assert len(acked) < 3_000

        process.start()
        client = await connect(process.url, session["accessToken"])
        stored = (await ok(client, "task:list", {"mine": True, "limit": 1}))["pagination"]["total"]
        assert stored >= len(acked)
        for task_id in acked[-20:]:
            assert (await ok(client, "task:get", {"taskId": task_id}))["task"]["id"] == task_id
        await client.disconnect()
    finally:
        process.remove()


async def test_inserts_into_a_large_collection_still_refuse_a_duplicate_id():
    async with embedded_mongo() as engine:
        client = AsyncMongoClient(engine.uri)
        try:
            collection = client.flat.documents
            ids = [ObjectId() for _ in range(20_000)]
            await collection.insert_many([{"_id": one, "n": index} for index, one in enumerate(ids)])
            with pytest.raises(DuplicateKeyError):
                await collection.insert_one({"_id": ids[12_345]})
            await collection.insert_one({"_id": "text-id"})
            with pytest.raises(DuplicateKeyError):
                await collection.insert_one({"_id": "text-id"})
            await collection.insert_one({"_id": 1})
            with pytest.raises(DuplicateKeyError):
                await collection.insert_one({"_id": 1.0})
            assert await collection.count_documents({}) == 20_002
        finally:
            await client.close()


def test_a_torn_journal_record_is_cut_off_and_the_complete_ones_replayed(tmp_path):
    journal = Journal(tmp_path)
    journal.open(1)
    for index in range(3):
        journal.append({"cmds": [{"n": index}]})
    journal.close()
    with open(journal.path(1), "ab") as file:
        file.write(b"\x40\x00\x00\x00\x03cmds\x00")
    assert [record["cmds"][0]["n"] for record in journal.records(1)] == [0, 1, 2]
    journal.open(1)
    journal.append({"cmds": [{"n": 3}]})
    journal.close()
    assert [record["cmds"][0]["n"] for record in journal.records(1)] == [0, 1, 2, 3]
