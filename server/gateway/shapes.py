"""The shapes acks and pushes carry: the one home of every object a client receives, imported by handlers and pushes alike.

The `models/*.public` functions build these objects as dicts; every ack and push the test
suite observes is validated against its declared shape (`tests/shapes.py`), and a `Shape`
refuses fields it does not declare, so the two cannot drift apart unnoticed.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from server.gateway.events import Payload


class Shape(BaseModel):
    """An object sent to clients: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


MAX_PAGE = 1_000_000


class PageQuery(Payload):
    page: Annotated[StrictInt, Field(ge=1, le=MAX_PAGE)] = 1
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20


class Pagination(Shape):
    page: int
    limit: int
    total: int
    pages: int


class Profile(Shape):
    id: str
    name: str
    email: str
    role: str
    bio: str
    skills: list[str]
    emailVerified: bool = Field(
        description="the user opened a verification link (or reset their password, or signed in with a provider that vouches for the address)"
    )
    referralCode: str = Field(description="others register with it (`referralCode`); see `referrals:get`")
    createdAt: str


class ProfileResult(Shape):
    user: Profile


PayoutsState = Literal["not_connected", "pending", "verified", "restricted"]


class Wallet(Shape):
    balance: int
    held: int
    currency: str
    totalEarnings: int
    totalSpent: int
    totalWithdrawals: int
    isFrozen: bool
    payoutsStatus: PayoutsState


class LedgerLine(Shape):
    id: str
    type: str
    currency: str
    availableChange: int = Field(description="cents added to (negative: taken from) the available balance")
    heldChange: int = Field(description="cents added to (negative: taken from) the held balance")
    refs: dict[str, str] = Field(description="what caused it: userId, depositId, requestId, Stripe ids, …")
    createdAt: str


class Deposit(Shape):
    id: str
    amount: int
    currency: str
    status: Literal["pending", "completed", "failed"]
    sessionId: str | None
    createdAt: str


class DepositResult(Shape):
    deposit: Deposit


class WithdrawalRequest(Shape):
    id: str
    userId: str
    amount: int
    currency: str
    status: Literal["pending", "approved", "paid", "failed", "rejected"]
    reason: str | None
    transferId: str | None
    createdAt: str
    resolvedAt: str | None


class WithdrawalResult(Shape):
    request: WithdrawalRequest


class PayoutsStatus(Shape):
    accountId: str | None
    status: PayoutsState
    payoutsEnabled: bool
    requirementsNeeded: list[str]


class CompletionRequest(Shape):
    id: str
    taskId: str
    offerId: str
    customerId: str
    contractorId: str
    amount: int
    contractorPayout: int
    currency: str
    status: Literal["pending", "approved", "rejected", "cancelled"]
    reason: str | None
    createdAt: str
    resolvedAt: str | None


class ReconciliationItem(Shape):
    id: str
    kind: Literal["unknown_transfer", "transfer_for_failed_payout", "unprocessable_event"]
    status: Literal["open", "resolved"]
    transferId: str | None
    payoutId: str | None
    eventId: str | None = Field(description="for `unprocessable_event`: the Stripe event that could not be read")
    eventType: str | None
    amount: int | None
    currency: str | None
    destination: str | None
    detail: str
    note: str | None
    createdAt: str
    resolvedAt: str | None


class Submission(Shape):
    note: str
    fileIds: list[str]
    submittedAt: str


class Task(Shape):
    id: str
    ownerId: str
    title: str
    description: str
    budget: int
    currency: str
    tags: list[str]
    deadline: str | None
    autoStart: bool
    status: str
    contractorId: str | None
    offerId: str | None
    pendingOfferId: str | None
    submission: Submission | None
    rejectionReason: str | None
    cancelReason: str | None
    createdAt: str
    updatedAt: str
    rankedAt: str = Field(description="where the task sorts in the default ordering: its creation, or its last bump")


class TaskResult(Shape):
    task: Task


class FeaturedMark(Shape):
    type: Literal["featured"]
    endsAt: str


class ListedTask(Task):
    featured: bool = Field(description="shown as sponsored: in `task:list`'s featured block, or a featured task in recommendations")
    boost: FeaturedMark | None = Field(description="the featured boost shown, when `featured`")


class RecommendedTask(ListedTask):
    matchedSkills: list[str] = Field(description="your skills among the task's tags")


class Boost(Shape):
    id: str
    taskId: str
    type: Literal["bump", "featured"]
    source: Literal["wallet", "credit"]
    startsAt: str
    endsAt: str = Field(description="featured: when it leaves the featured block; bump: when the next bump may be bought")
    price: int = Field(description="cents paid from the wallet (0 for a credit)")
    impressions: int = Field(description="times the task was shown in a featured block while this boost ran")
    views: int = Field(description="`task:get` by others while this boost ran")
    createdAt: str


class Application(Shape):
    id: str
    taskId: str
    contractorId: str
    message: str
    status: str
    createdAt: str


class ApplicationResult(Shape):
    application: Application


class Offer(Shape):
    id: str
    taskId: str
    applicationId: str
    customerId: str
    contractorId: str
    amount: int
    platformFee: int
    serviceFee: int
    contractorPayout: int
    totalCharge: int
    currency: str
    timeline: str
    description: str
    status: str
    reason: str | None
    expiresAt: str
    createdAt: str


class OfferResult(Shape):
    offer: Offer


class Message(Shape):
    id: str
    roomId: str
    senderId: str
    text: str
    seq: int = Field(description="increases by one per message in the room")
    createdAt: str
    clientMsgId: str
    fileIds: list[str]
    editedAt: str | None
    deleted: bool


class MessageResult(Shape):
    message: Message


class Room(Shape):
    id: str
    kind: str = Field(description="`direct`, `group` or `task`")
    name: str | None
    memberIds: list[str]
    createdBy: str | None
    taskId: str | None
    lastSeq: int
    lastMessage: Message | None
    unreadCount: int = Field(description="messages after your read marker")
    createdAt: str


class RoomResult(Shape):
    room: Room


class Notification(Shape):
    id: str
    event: str = Field(description="the push's event name, e.g. `offer:received`")
    data: dict = Field(description="the push's payload, as it was sent")
    read: bool
    createdAt: str


class PlanLimits(Shape):
    listings: int | None = Field(description="open listings allowed; null: unlimited")
    partners: int | None = Field(description="trade partners at a time; null: unlimited")


class PlanUsage(Shape):
    listings: int
    partners: int


class PlanView(Shape):
    plan: Literal["free", "pro", "elite"] = Field(description="what the subscription grants now (`past_due` keeps it for the grace period)")
    status: str | None = Field(description="the Stripe subscription's status (`active`, `past_due`, `canceled`, …); null: never subscribed")
    priceId: str | None
    currentPeriodEnd: str | None
    cancelAtPeriodEnd: bool
    limits: PlanLimits
    usage: PlanUsage
    boostCredits: int = Field(description="Elite: free boosts left this period (they expire at its end)")


class PortfolioItem(Shape):
    title: str
    description: str | None
    url: str | None
    fileIds: list[str]


class SocialLink(Shape):
    url: str
    label: str | None


class ProfileAddOns(Shape):
    resumeFileId: str | None
    portfolio: list[PortfolioItem]
    socialLinks: list[SocialLink]


class PublicProfile(Shape):
    id: str
    name: str
    bio: str
    skills: list[str]
    role: str
    plan: Literal["free", "pro", "elite"]
    badges: list[str] = Field(description="`verified` while the user's Elite plan is active")
    identityVerified: bool = Field(description="Stripe verified the user's identity (payouts status `verified`)")
    memberSince: str
    completedTasks: int
    addOns: ProfileAddOns | None = Field(description="Elite's résumé, portfolio and links; shown only while Elite is active")


class PublicProfileResult(Shape):
    profile: PublicProfile


class AdminUserRow(Shape):
    id: str
    name: str
    email: str
    role: str
    plan: Literal["free", "pro", "elite"]
    frozen: bool
    createdAt: str


class AdminUsersPage(Shape):
    users: list[AdminUserRow]
    pagination: Pagination


class AdminUserDetail(Shape):
    user: Profile
    profile: PublicProfile
    plan: PlanView
    subscriptionId: str | None
    stripeCustomerId: str | None
    frozen: bool
    wallet: Wallet | None = Field(description="null for an account without a wallet")
    payouts: PayoutsStatus


class MatchedContractor(PublicProfile):
    matchedSkills: list[str] = Field(description="the contractor's skills among the searched tags")


class ContractorsPage(Shape):
    users: list[MatchedContractor]
    pagination: Pagination


class ReferralSummary(Shape):
    code: str
    link: str = Field(description="`PUBLIC_URL/r/<code>`: opens the app (`APP_RETURN_URL?ref=<code>`) or a page showing the code")
    referred: int = Field(description="people who registered with your code")
    qualified: int = Field(description="of them, those whose first task completed")
    earnedCents: int = Field(description="referral rewards paid to you, as referrer and as referred user")


class ReferralRewarded(Shape):
    amount: int = Field(description="cents credited to your wallet")
    side: Literal["referrer", "referred"] = Field(description="`referrer`: someone you referred completed a first task; `referred`: you did")
    referredUserId: str
