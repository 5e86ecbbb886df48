"""Tasks: posting, browsing, applying, starting, delivering, completing and cancelling."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from models import applications, boosts, cancellations, completions, roles, search, tasks
from server import pushes
from server.gateway.dispatch import EventContext
from server.gateway.events import Id, Instant, Payload, Retryable, Visible, event
from server.gateway.rooms import task_room
from server.gateway.shapes import (
    Application,
    ApplicationResult,
    CompletionRequest,
    ListedTask,
    MatchedContractor,
    PageQuery,
    Pagination,
    RecommendedTask,
    Task,
    TaskResult,
)

Tag = Annotated[str, Field(min_length=1, max_length=40)]
Reason = Annotated[str, Field(min_length=1, max_length=1000), Visible]
Title = Annotated[str, Field(min_length=3, max_length=200), Visible]
Description = Annotated[str, Field(min_length=1, max_length=10_000), Visible]


class NewTask(Retryable):
    title: Title
    description: Description
    budget: Annotated[StrictInt, Field(ge=100, le=100_000_000, description="cents")]
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    deadline: Instant | None = Field(default=None, description="ISO 8601 with a time zone")
    autoStart: StrictBool = Field(default=False, description="start work as soon as an offer is accepted")


class TaskChanges(Payload):
    taskId: Id
    title: Title | None = None
    description: Description | None = None
    budget: Annotated[StrictInt, Field(ge=100, le=100_000_000)] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    deadline: Instant | None = None
    autoStart: StrictBool | None = None


class TaskQuery(PageQuery):
    status: Literal[*tasks.STATUSES] | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20, description="tasks with any of these tags")
    q: str | None = Field(default=None, min_length=1, max_length=200, description="text in the title or description")
    mine: StrictBool = Field(default=False, description="only tasks you own or are assigned to")


class TaskRef(Payload):
    taskId: Id


class Apply(Retryable):
    taskId: Id
    message: Annotated[str, Field(min_length=1, max_length=5_000), Visible]


class Submit(TaskRef):
    note: Annotated[str, Field(min_length=1, max_length=5_000), Visible]
    fileIds: list[Id] = Field(default_factory=list, max_length=20, description="from `POST /api/files`, uploaded by you")


class Cancel(TaskRef):
    reason: Reason


class TaskPage(BaseModel):
    tasks: list[ListedTask]
    pagination: Pagination


class RecommendedPage(BaseModel):
    tasks: list[RecommendedTask]
    pagination: Pagination


class CandidatesQuery(Payload):
    taskId: Id
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20


class CandidatesPage(BaseModel):
    users: list[MatchedContractor]


class ApplicationList(BaseModel):
    applications: list[Application]


class CompletionResult(BaseModel):
    task: Task
    request: CompletionRequest


class CancelResult(BaseModel):
    task: Task
    refundAmount: int = Field(description="cents returned from escrow to the customer's wallet (0 before an offer was accepted)")


class Watching(BaseModel):
    taskId: str


@event("task:create", payload=NewTask, result=TaskResult, who=roles.CUSTOMERS)
async def create(ctx: EventContext, payload: NewTask) -> dict:
    """Post a task (status `open`); contractors find it with `task:list`."""
    task, _ = await tasks.create(
        ctx.services.db,
        ctx.user_id,
        title=payload.title,
        description=payload.description,
        budget=payload.budget,
        tags=payload.tags,
        deadline=payload.deadline,
        auto_start=payload.autoStart,
        request=ctx.client_request,
        plan_policy=ctx.services.settings.plans,
    )
    return {"task": tasks.public(task)}


@event("task:list", payload=TaskQuery, result=TaskPage, budget=None)
async def list_tasks(ctx: EventContext, payload: TaskQuery) -> dict:
    """Browse tasks by status, tags (any of, case-insensitive), text, or your own (`mine`: newest created first). Otherwise
    page 1 starts with up to `FEATURED_SLOTS` featured tasks matching the filters (`featured: true`, taking turns), then
    the rest by `rankedAt` (newest or last bumped first)."""
    services = ctx.services
    return await search.task_page(
        services.db,
        (ctx.user_id, ctx.role),
        status=payload.status,
        tags=payload.tags,
        text=payload.q,
        mine=payload.mine,
        page=payload.page,
        limit=payload.limit,
        slots=services.settings.featured_slots,
    )


@event("task:recommended", payload=PageQuery, result=RecommendedPage, who=roles.CONTRACTORS, budget=None)
async def recommended(ctx: EventContext, payload: PageQuery) -> dict:
    """Open tasks for you: most of your skills among their tags first, then featured, then newest; not your own, not
    ones you applied to. Without skills (`me:update`), the default ordering."""
    return await search.recommended(ctx.services.db, ctx.user_id, page=payload.page, limit=payload.limit)


@event("task:candidates", payload=CandidatesQuery, result=CandidatesPage, who=roles.CUSTOMERS, budget=None)
async def candidates(ctx: EventContext, payload: CandidatesQuery) -> dict:
    """Contractors for your task's tags, ranked as `users:search` ranks them, leaving out who already applied."""
    found = await search.candidates(ctx.services.db, payload.taskId, ctx.user_id, ctx.services.settings.plans, limit=payload.limit)
    return {"users": found["users"]}


@event("task:get", payload=TaskRef, result=TaskResult, budget=None)
async def get(ctx: EventContext, payload: TaskRef) -> dict:
    """One task; the delivery and the reasons only to its participants and admins. Counts a view for its running boosts."""
    task = await tasks.get(ctx.services.db, None, payload.taskId)
    await boosts.count_view(ctx.services.db, task, ctx.user_id)
    return {"task": tasks.public(task, (ctx.user_id, ctx.role))}


@event("task:update", payload=TaskChanges, result=TaskResult, who=roles.CUSTOMERS)
async def update(ctx: EventContext, payload: TaskChanges) -> dict:
    """Edit your task while it is `open`; omitted fields stay as they are."""
    changes = payload.model_dump(exclude={"taskId"}, exclude_unset=True)
    task = await tasks.update(ctx.services.db, payload.taskId, ctx.user_id, changes)
    await pushes.tasks.task_updated(ctx.services, task)
    return {"task": tasks.public(task)}


@event("task:watch", payload=TaskRef, result=Watching, budget=None)
async def watch(ctx: EventContext, payload: TaskRef) -> dict:
    """Receive `task:updated` for a task on this socket (its participants and admins only)."""
    task = await tasks.watchable(ctx.services.db, payload.taskId, ctx.user_id, ctx.role)
    await ctx.join(task_room(task["_id"]))
    return {"taskId": str(task["_id"])}


@event("task:unwatch", payload=TaskRef, result=Watching, budget=None)
async def unwatch(ctx: EventContext, payload: TaskRef) -> dict:
    """Stop receiving a watched task's `task:updated` on this socket."""
    await ctx.leave(task_room(payload.taskId))
    return {"taskId": payload.taskId}


@event("task:apply", payload=Apply, result=ApplicationResult, who=roles.CONTRACTORS)
async def apply(ctx: EventContext, payload: Apply) -> dict:
    """Apply to an `open` task, once; its owner gets `application:received`."""
    application, task, created = await applications.apply(ctx.services.db, payload.taskId, ctx.user_id, payload.message, ctx.client_request)
    if created:
        await pushes.tasks.application_received(ctx.services, application, task)
    return {"application": applications.public(application)}


@event("task:applications", payload=TaskRef, result=ApplicationList, who=roles.CUSTOMERS, budget=None)
async def list_applications(ctx: EventContext, payload: TaskRef) -> dict:
    """The applications to your task, oldest first."""
    return {"applications": await applications.for_task(ctx.services.db, payload.taskId, ctx.user_id)}


@event("task:start", payload=TaskRef, result=TaskResult, who=roles.CONTRACTORS)
async def start(ctx: EventContext, payload: TaskRef) -> dict:
    """Begin work on a task assigned to you (`assigned → in_progress`)."""
    task = await tasks.start(ctx.services.db, payload.taskId, ctx.user_id)
    await pushes.tasks.task_updated(ctx.services, task)
    return {"task": tasks.public(task)}


@event("task:submit", payload=Submit, result=TaskResult, who=roles.CONTRACTORS)
async def submit(ctx: EventContext, payload: Submit) -> dict:
    """Deliver the work (`in_progress → submitted`), with a note and your uploaded files."""
    task = await completions.submit(ctx.services.db, payload.taskId, ctx.user_id, payload.note, payload.fileIds)
    await pushes.tasks.task_updated(ctx.services, task)
    return {"task": tasks.public(task)}


@event("task:complete", payload=TaskRef, result=CompletionResult, who=roles.CUSTOMERS)
async def complete(ctx: EventContext, payload: TaskRef) -> dict:
    """Accept the delivered work (`submitted → completion_requested`); an admin approves the payout."""
    request, task = await completions.request(ctx.services.db, payload.taskId, ctx.user_id)
    view = completions.public(request)
    await pushes.money.admin_queue(ctx.services, "completion", "added", view)
    await pushes.tasks.task_updated(ctx.services, task)
    return {"task": tasks.public(task), "request": view}


@event("task:cancel", payload=Cancel, result=CancelResult, who=roles.TRADERS)
async def cancel(ctx: EventContext, payload: Cancel) -> dict:
    """Cancel (owner or assigned contractor): a pending offer's hold is released; after acceptance escrow refunds the customer."""
    return await cancel_task(ctx, payload)


async def cancel_task(ctx: EventContext, payload: Cancel) -> dict:
    """Shared with `admin:task:cancel`: cancel, then tell everyone concerned."""
    services = ctx.services
    done = await cancellations.cancel(services.db, payload.taskId, ctx.user_id, ctx.role, payload.reason)
    if done.offer is not None:
        await pushes.tasks.offer_updated(services, done.offer)
        await pushes.money.wallet_changed(services, done.task["ownerId"])
    if done.completion is not None:
        await pushes.money.admin_queue(services, "completion", "resolved", completions.public(done.completion))
    await pushes.tasks.task_updated(services, done.task)
    return {"task": tasks.public(done.task), "refundAmount": done.refund_amount}
