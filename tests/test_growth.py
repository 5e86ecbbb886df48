"""Growth: boosts (bump and featured, from the wallet or an Elite credit), the featured block, recommendations, contractor
search and referrals."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import socketio
from bson import ObjectId
from pymongo import AsyncMongoClient

from models.plans import PlanPolicy
from models.search import contractor_rank, task_rank
from tests.billing import PLAN_ENV, deliver, invoice_event, subscribe
from tests.conftest import call, connect, money_server, post, register
from tests.marketplace import funded_customer, send_offer
from tests.money import Pushes, admin_socket, error_code, eventually, ok, user_socket, verify_email, verify_payouts
from tests.servers import ServerProcess

FEATURED_SECONDS = 3
SLOTS = 2
TASK = {"title": "Fix the fence", "description": "Two panels are loose.", "budget": 10_000}


@pytest.fixture(scope="module")
def growth_server(fake_stripe):
    """Short featured boosts, two featured slots, and a referrer paid for at most two people."""
    process = money_server(fake_stripe, **PLAN_ENV, FEATURED_BOOST_SECONDS=str(FEATURED_SECONDS), FEATURED_SLOTS=str(SLOTS), REFERRAL_MAX_REWARDS="2")
    yield process.start()
    try:
        process.audit_clean()
    finally:
        process.remove()


def word() -> str:
    """A tag (or skill) no other test uses, so each test's searches see only its own tasks."""
    return f"t{uuid.uuid4().hex[:10]}"


async def task_with(client: socketio.AsyncClient, *tags: str, title: str = "Fix the fence") -> dict:
    return (await ok(client, "task:create", TASK | {"title": title, "tags": list(tags)}))["task"]


async def boost(client: socketio.AsyncClient, task: dict, kind: str, **fields) -> dict:
    return await ok(client, "boost:buy", {"taskId": task["id"], "type": kind, "clientRequestId": uuid.uuid4().hex} | fields)


async def listed(client: socketio.AsyncClient, **query) -> list[dict]:
    return (await ok(client, "task:list", {"limit": 100} | query))["tasks"]


# --- pure rules


def test_a_recommended_task_ranks_by_shared_skills_then_featured():
    now = datetime(2027, 1, 1, tzinfo=UTC)
    featured = {"status": "open", "featuredUntil": now + timedelta(hours=1), "tagKeys": ["tiling"]}
    plain = {"status": "open", "featuredUntil": None, "tagKeys": ["tiling", "plumbing"]}
    lapsed = {"status": "open", "featuredUntil": now - timedelta(seconds=1), "tagKeys": ["tiling"]}
    ranked = sorted([lapsed, featured, plain], key=lambda task: task_rank(task, ["tiling", "plumbing"], now))
    assert ranked == [plain, featured, lapsed]


def test_contractors_rank_by_shared_skills_then_elite_then_verified_then_completed_tasks():
    policy = PlanPolicy(1, 1, 3, 3, 60, 3, "p_p", "p_e")
    elite = {"skillKeys": ["tiling"], "subscription": {"tier": "elite", "status": "active"}, "completedTasks": 0}
    verified = {"skillKeys": ["tiling"], "payouts": {"status": "verified"}, "completedTasks": 0}
    busy = {"skillKeys": ["tiling"], "completedTasks": 9}
    idle = {"skillKeys": ["tiling"], "completedTasks": 0}
    best = {"skillKeys": ["tiling", "plumbing"], "completedTasks": 0}
    ranked = sorted([idle, busy, verified, elite, best], key=lambda user: contractor_rank(user, ["tiling", "plumbing"], policy))
    assert ranked == [best, elite, verified, busy, idle]


# --- boosts


async def test_a_bump_paid_from_the_wallet_moves_the_task_up_once_per_cooldown_and_a_retry_charges_once(growth_server):
    base, tag = growth_server.url, word()
    _, customer = await funded_customer(base, 5_000)
    older = await task_with(customer, tag, title="Older task")
    newer = await task_with(customer, tag, title="Newer task")
    assert [task["id"] for task in await listed(customer, tags=[tag])] == [newer["id"], older["id"]]

    request = {"taskId": older["id"], "type": "bump", "clientRequestId": "bump-1"}
    first = await ok(customer, "boost:buy", request)
    again = await ok(customer, "boost:buy", request)
    assert again["boost"] == first["boost"], "the retried request returns the first boost"
    assert (first["boost"]["type"], first["boost"]["source"], first["boost"]["price"]) == ("bump", "wallet", 200)
    assert first["task"]["rankedAt"] > older["rankedAt"]
    assert [task["id"] for task in await listed(customer, tags=[tag])] == [older["id"], newer["id"]]
    wallet = await ok(customer, "wallet:get")
    assert wallet["balance"] == 4_800, "charged once"
    [purchase] = [tx for tx in (await ok(customer, "wallet:transactions"))["transactions"] if tx["type"] == "boost_purchase"]
    assert purchase["availableChange"] == -200 and purchase["refs"]["boostId"] == first["boost"]["id"]

    refused = await call(customer, "boost:buy", request | {"clientRequestId": "bump-2"})
    assert refused["error"]["code"] == "rate_limited" and 86_000 < refused["error"]["details"]["retryAfter"] <= 86_400
    assert (await ok(customer, "wallet:get"))["balance"] == 4_800
    await customer.disconnect()


async def test_only_the_owner_boosts_an_open_task_and_a_short_wallet_or_no_credit_changes_nothing(growth_server):
    base, tag = growth_server.url, word()
    _, customer = await funded_customer(base, 900)
    task = await task_with(customer, tag)
    _, stranger = await funded_customer(base, 5_000)
    assert (await call(stranger, "boost:buy", {"taskId": task["id"], "type": "bump", "clientRequestId": "x"}))["error"]["code"] == "forbidden"
    assert (await call(customer, "boost:buy", {"taskId": task["id"], "type": "featured", "clientRequestId": "y"}))["error"]["code"] == (
        "insufficient_funds"
    )
    no_credit = await call(customer, "boost:buy", {"taskId": task["id"], "type": "featured", "useCredit": True, "clientRequestId": "z"})
    assert no_credit["error"]["code"] == "no_credits"
    missing_id = await call(customer, "boost:buy", {"taskId": task["id"], "type": "bump"})
    assert missing_id["error"]["code"] == "invalid_request", "a boost needs a clientRequestId"
    assert (await ok(customer, "wallet:get"))["balance"] == 900
    assert (await ok(customer, "boost:list"))["boosts"] == []
    assert (await listed(customer, tags=[tag]))[0]["featured"] is False

    await ok(customer, "task:cancel", {"taskId": task["id"], "reason": "Not needed."})
    assert (await call(customer, "boost:buy", {"taskId": task["id"], "type": "bump", "clientRequestId": "w"}))["error"]["code"] == "invalid_state"
    await asyncio.gather(customer.disconnect(), stranger.disconnect())


async def test_an_elite_credit_features_a_task_that_leads_matching_searches_until_it_ends(growth_server, fake_stripe):
    base, tag = growth_server.url, word()
    _, customer = await funded_customer(base, 1_000)
    subscription = await subscribe(base, fake_stripe, customer, "elite")
    plain = await task_with(customer, tag, title="Oldest task")
    middle = await task_with(customer, tag, title="Middle task")
    newest = await task_with(customer, tag, title="Newest task")
    bought = await boost(customer, plain, "featured", useCredit=True)
    assert (bought["boost"]["source"], bought["boost"]["price"]) == ("credit", 0)
    assert (await ok(customer, "plan:get"))["boostCredits"] == 2
    await deliver(base, invoice_event("invoice.paid", subscription))
    assert (await ok(customer, "plan:get"))["boostCredits"] == 2, "the same invoice again (another event) grants nothing"
    assert (await ok(customer, "wallet:get"))["balance"] == 1_000, "a credit moves no money"

    _, contractor = await user_socket(base, "contractor")
    page = await listed(contractor, tags=[tag])
    assert [(task["id"], task["featured"]) for task in page][:2] == [(plain["id"], True), (newest["id"], False)]
    assert page[0]["boost"]["endsAt"] == bought["boost"]["endsAt"]
    assert [task["id"] for task in page].count(plain["id"]) == 1, "not repeated in the organic part of the page"
    assert [task["id"] for task in await listed(contractor, tags=[word()])] == [], "other searches do not show it"
    assert not any(task["featured"] for task in await listed(contractor, tags=[tag], status="assigned"))

    await ok(contractor, "task:get", {"taskId": plain["id"]})
    await ok(customer, "task:get", {"taskId": plain["id"]})
    [stats] = (await ok(customer, "boost:list", {"taskId": plain["id"]}))["boosts"]
    assert (stats["impressions"], stats["views"]) == (1, 1), "one showing in the featured block, one view by someone else"

    await eventually(lambda: listed(contractor, tags=[tag]), lambda tasks: not tasks[0]["featured"], timeout=FEATURED_SECONDS + 10)
    assert [task["id"] for task in await listed(contractor, tags=[tag])] == [newest["id"], middle["id"], plain["id"]]
    bumped = await boost(customer, plain, "bump", useCredit=True)
    assert (bumped["boost"]["source"], (await ok(customer, "plan:get"))["boostCredits"]) == ("credit", 1)
    assert [task["id"] for task in await listed(contractor, tags=[tag])] == [plain["id"], newest["id"], middle["id"]]
    assert (await ok(customer, "wallet:get"))["balance"] == 1_000
    await asyncio.gather(customer.disconnect(), contractor.disconnect())


async def test_featuring_again_extends_and_a_cancelled_task_leaves_the_block_at_once(growth_server):
    base, tag = growth_server.url, word()
    _, customer = await funded_customer(base, 5_000)
    task = await task_with(customer, tag)
    first = await boost(customer, task, "featured")
    second = await boost(customer, task, "featured")
    assert second["boost"]["startsAt"] == first["boost"]["endsAt"], "the new period starts where the running one ends"
    assert (await ok(customer, "wallet:get"))["balance"] == 3_000
    assert (await listed(customer, tags=[tag]))[0]["featured"] is True
    await ok(customer, "task:cancel", {"taskId": task["id"], "reason": "Found someone."})
    assert not any(found["featured"] for found in await listed(customer, tags=[tag]))
    assert (await ok(customer, "wallet:get"))["balance"] == 3_000, "boosts are not refunded"
    await customer.disconnect()


async def test_featured_tasks_share_the_slots_in_turns(growth_server):
    base, tag = growth_server.url, word()
    _, customer = await funded_customer(base, 10_000)
    featured = [await task_with(customer, tag, title=f"Featured {n}") for n in range(3)]
    for task in featured:
        await boost(customer, task, "featured")
    shown: dict[str, int] = {}
    for _ in range(3):
        block = [task["id"] for task in await listed(customer, tags=[tag]) if task["featured"]]
        assert len(block) == SLOTS
        for task_id in block:
            shown[task_id] = shown.get(task_id, 0) + 1
    assert sorted(shown.values()) == [2, 2, 2], "three rounds of two slots: each of the three shown twice"
    await customer.disconnect()


async def test_paging_through_a_search_with_a_featured_block_repeats_and_skips_nothing(growth_server):
    base, tag = growth_server.url, word()
    _, customer = await funded_customer(base, 5_000)
    created = [await task_with(customer, tag, title=f"Task {n}") for n in range(7)]
    newest_first = [task["id"] for task in reversed(created)]
    for task in (created[6], created[1]):  # one inside page 1's window, one further down
        await boost(customer, task, "featured")
    block, organic = [], []
    for page in (1, 2, 3, 4):
        answer = await ok(customer, "task:list", {"tags": [tag], "limit": 2, "page": page})
        assert answer["pagination"]["total"] == 7
        block += [task["id"] for task in answer["tasks"] if task["featured"]]
        organic += [task["id"] for task in answer["tasks"] if not task["featured"]]
    assert sorted(block) == sorted([created[6]["id"], created[1]["id"]]), "only page 1 has a featured block"
    assert organic == [task_id for task_id in newest_first if task_id != created[6]["id"]], (
        "the default order, once each; a task in the block is left out of that same page's organic part only"
    )
    await customer.disconnect()


# --- recommendations and search


async def test_a_contractor_gets_tasks_matching_more_of_their_skills_first_and_not_those_applied_to(growth_server):
    base = growth_server.url
    plumbing, tiling, other = word(), word(), word()
    _, customer = await funded_customer(base, 5_000)
    one = await task_with(customer, tiling, other, title="Tiles only")
    both = await task_with(customer, tiling, plumbing, title="Both")
    promoted = await task_with(customer, plumbing, title="Pipes, featured")
    await boost(customer, promoted, "featured")
    applied = await task_with(customer, plumbing.upper(), title="Applied already")
    _, contractor = await user_socket(base, "contractor")
    await ok(contractor, "me:update", {"skills": [plumbing.capitalize(), tiling]})
    await ok(contractor, "task:apply", {"taskId": applied["id"], "message": "Me!"})

    page = (await ok(contractor, "task:recommended", {"limit": 5}))["tasks"]
    assert [task["id"] for task in page[:3]] == [both["id"], promoted["id"], one["id"]]
    assert page[0]["matchedSkills"] == [tiling, plumbing.capitalize()] and page[1]["featured"] is True
    assert applied["id"] not in [task["id"] for task in page]
    assert all(not task["matchedSkills"] for task in page[3:])

    _, newcomer = await user_socket(base, "contractor")
    default = (await ok(newcomer, "task:recommended", {"limit": 20}))["tasks"]
    assert all(task["matchedSkills"] == [] for task in default)
    flags = [task["featured"] for task in default]
    assert flags == sorted(flags, reverse=True), "without skills: featured first, then the default ordering"
    assert await error_code(customer, "task:recommended") == "forbidden"
    await asyncio.gather(customer.disconnect(), contractor.disconnect(), newcomer.disconnect())


async def test_searching_contractors_by_tags_puts_the_best_matches_first_and_elite_and_verified_first_among_equals(growth_server, fake_stripe):
    base = growth_server.url
    tiling, plumbing = word(), word()

    async def contractor(*skills: str, bio: str = "") -> tuple[dict, socketio.AsyncClient]:
        session, client = await user_socket(base, "contractor")
        await ok(client, "me:update", {"skills": list(skills), "bio": bio or "Handy"})
        return session, client

    plain = await contractor(tiling)
    verified = await contractor(tiling)
    await verify_payouts(base, verified[1])
    elite = await contractor(tiling)
    await subscribe(base, fake_stripe, elite[1], "elite")
    best = await contractor(tiling, plumbing)
    by_bio = await contractor(word(), bio=f"I also do {plumbing} work")
    _, customer = await user_socket(base, "customer")

    found = await ok(customer, "users:search", {"tags": [tiling.upper(), plumbing]})
    order = [user["id"] for user in found["users"]]
    assert order == [who[0]["user"]["id"] for who in (best, elite, verified, plain)]
    first = found["users"][0]
    assert first["matchedSkills"] == [tiling, plumbing] and "email" not in first
    assert found["users"][1]["badges"] == ["verified"] and found["users"][2]["identityVerified"] is True
    assert [user["id"] for user in (await ok(customer, "users:search", {"q": plumbing}))["users"]] == [by_bio[0]["user"]["id"]]

    await asyncio.gather(customer.disconnect(), *(who[1].disconnect() for who in (plain, verified, elite, best, by_bio)))


async def test_a_task_owner_sees_candidates_for_its_tags_without_those_who_applied(growth_server):
    base, tiling = growth_server.url, word()
    _, customer = await funded_customer(base, 1_000)
    task = await task_with(customer, tiling)
    applicants, others = [], []
    for group in (applicants, others):
        _, client = await user_socket(base, "contractor")
        await ok(client, "me:update", {"skills": [tiling]})
        group.append(client)
    await ok(applicants[0], "task:apply", {"taskId": task["id"], "message": "Me!"})
    other_id = (await ok(others[0], "me:get"))["user"]["id"]
    assert [user["id"] for user in (await ok(customer, "task:candidates", {"taskId": task["id"]}))["users"]] == [other_id]
    _, stranger = await user_socket(base, "customer")
    assert await error_code(stranger, "task:candidates", {"taskId": task["id"]}) == "forbidden"
    await asyncio.gather(customer.disconnect(), stranger.disconnect(), *(client.disconnect() for client in applicants + others))


# --- referrals


async def complete_a_task(base: str, admin: socketio.AsyncClient, customer: socketio.AsyncClient, contractor: socketio.AsyncClient) -> None:
    task = await task_with(customer, word())
    application = (await ok(contractor, "task:apply", {"taskId": task["id"], "message": "Me!"}))["application"]
    offer = await send_offer(customer, application, amount=1_000)
    await ok(contractor, "offer:accept", {"offerId": offer["id"]})
    await ok(contractor, "task:start", {"taskId": task["id"]})
    await ok(contractor, "task:submit", {"taskId": task["id"], "note": "Done."})
    request = (await ok(customer, "task:complete", {"taskId": task["id"]}))["request"]
    await ok(admin, "admin:completion:approve", {"requestId": request["id"]})


async def verified_referrer(base: str, role: str) -> tuple[socketio.AsyncClient, str]:
    """A user with a verified email, and their referral code."""
    session, client = await user_socket(base, role)
    await verify_email(base, session["user"]["email"])
    return client, (await ok(client, "me:get"))["user"]["referralCode"]


async def referred_socket(base: str, role: str, code: str) -> tuple[dict, socketio.AsyncClient]:
    session = await register(base, role, referralCode=code.lower())
    return session, await connect(base, session["accessToken"])


async def test_a_referred_users_first_completed_task_pays_both_sides_once_and_an_unverified_side_waits(growth_server):
    base = growth_server.url
    admin = await admin_socket(base)
    referrer, code = await verified_referrer(base, "customer")
    assert len(code) == 8 and not set(code) & set("01OIL")
    referred_session, referred = await referred_socket(base, "contractor", code)
    heard = Pushes(referrer, "referral:rewarded"), Pushes(referred, "referral:rewarded")
    _, customer = await funded_customer(base, 5_000)

    await complete_a_task(base, admin, customer, referred)
    assert (await heard[0].next("referral:rewarded")) == {"amount": 500, "side": "referrer", "referredUserId": referred_session["user"]["id"]}
    assert (await ok(referrer, "wallet:get"))["balance"] == 500
    assert (await ok(referred, "wallet:get"))["balance"] == 800, "the payout only: their own reward waits for their email"

    await verify_email(base, referred_session["user"]["email"])
    assert (await heard[1].next("referral:rewarded"))["side"] == "referred"
    assert (await ok(referred, "wallet:get"))["balance"] == 1_300

    await complete_a_task(base, admin, customer, referred)
    summary = await ok(referrer, "referrals:get")
    assert summary == {"code": code, "link": f"https://api.example.test/r/{code}", "referred": 1, "qualified": 1, "earnedCents": 500}
    assert (await ok(referrer, "wallet:get"))["balance"] == 500, "a second completed task pays no referral again"
    transactions = (await ok(referred, "wallet:transactions"))["transactions"]
    assert [tx["availableChange"] for tx in transactions if tx["type"] == "referral_reward"] == [500]
    await asyncio.gather(admin.disconnect(), referrer.disconnect(), referred.disconnect(), customer.disconnect())


async def test_a_referrer_is_paid_for_at_most_the_cap_while_the_people_they_referred_are_still_paid(growth_server):
    base = growth_server.url
    admin = await admin_socket(base)
    referrer, code = await verified_referrer(base, "contractor")
    _, contractor = await user_socket(base, "contractor")
    for _ in range(3):
        session, referred = await referred_socket(base, "customer", code)
        await verify_email(base, session["user"]["email"])
        await fund(base, admin, session["user"]["id"])
        await complete_a_task(base, admin, referred, contractor)
        assert (await ok(referred, "referrals:get"))["earnedCents"] == 500
        await referred.disconnect()
    summary = await ok(referrer, "referrals:get")
    assert (summary["referred"], summary["qualified"], summary["earnedCents"]) == (3, 3, 1_000), "capped at REFERRAL_MAX_REWARDS=2"
    await asyncio.gather(admin.disconnect(), referrer.disconnect(), contractor.disconnect())


async def fund(base: str, admin: socketio.AsyncClient, user_id: str) -> None:
    await ok(admin, "admin:wallet:adjust", {"userId": user_id, "amount": 5_000, "reason": "test funds"})


async def test_unknown_and_own_referral_codes_are_refused_and_no_account_is_made(growth_server):
    base = growth_server.url
    email = f"ref{uuid.uuid4().hex[:8]}@example.com"
    body = {"name": "Ann", "email": email, "password": "correct horse", "role": "customer"}
    status, answer = await post(base, "/api/auth/register", body | {"referralCode": "ZZZZZZZZ"})
    assert (status, answer["error"]["code"]) == (400, "invalid_referral_code")
    status, created = await post(base, "/api/auth/register", body)
    assert status == 201, "the refused attempt made no account"
    code = created["data"]["user"]["referralCode"]
    status, answer = await post(base, "/api/auth/register", body | {"email": email.replace("@", "+2@"), "referralCode": code})
    assert (status, answer["error"]["code"], answer["error"]["details"]) == (400, "invalid_referral_code", {"reason": "self"})

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/r/{code}", allow_redirects=False) as response:
            assert response.status == 200 and code in await response.text()
    assert ObjectId.is_valid(created["data"]["user"]["id"])


async def test_data_from_before_ranking_and_referrals_gets_its_new_fields_at_start(mongodb_uri):
    """Users without a referral code, skill keys or completed-task count, and tasks without `rankedAt`/`tagKeys` (as an
    earlier version stored them) get them when a server starts on the data."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    process = ServerProcess(env={"MONGODB_URI": mongodb_uri}, database=database).start()
    try:
        session, customer = await user_socket(process.url, "customer")
        await ok(customer, "me:update", {"skills": ["Tiling"]})
        task = await task_with(customer, "Garden")
        await customer.disconnect()
        process.stop()
        client = AsyncMongoClient(mongodb_uri)
        stored = client[database]
        user_id = ObjectId(session["user"]["id"])
        await stored.users.update_one({"_id": user_id}, {"$unset": {"referralCode": "", "skillKeys": "", "completedTasks": ""}})
        await stored.tasks.update_one({"_id": ObjectId(task["id"])}, {"$unset": {"rankedAt": "", "tagKeys": ""}})
        process.start()
        user = await stored.users.find_one({"_id": user_id})
        assert (len(user["referralCode"]), user["skillKeys"], user["completedTasks"]) == (8, ["tiling"], 0)
        stored_task = await stored.tasks.find_one({"_id": ObjectId(task["id"])})
        assert (stored_task["tagKeys"], stored_task["rankedAt"]) == (["garden"], stored_task["createdAt"])
        await client.close()
    finally:
        process.remove()
