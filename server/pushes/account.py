"""What the server tells a user about their account and their session."""

from pydantic import Field

from models import plans, tasks, users
from server.gateway.events import NoPayload, push
from server.gateway.shapes import PlanView, ProfileResult, Shape
from server.pushes.delivery import deliver


class Revoked(Shape):
    reason: str = Field(
        description="`logout`, `token_reuse` (a used refresh token came back: sign in again), "
        "`promoted` (the account was made an admin), `suspended` (an admin's account was frozen), `password_reset`, "
        "`password_changed` (on another device), or `signed_out_elsewhere` (`auth:sessions:revoke`)"
    )


PLAN_UPDATED = push(
    "plan:updated",
    PlanView,
    "Your plan changed (subscribed, renewed, payment failed, cancelled, Elite credits granted): the `plan:get` data.",
    stored=True,
)
ME_UPDATED = push(
    "me:updated", ProfileResult, "The caller's profile changed (pushed to all of that user's sockets, so a second device stays current)."
)
SESSION_EXPIRED = push("session:expired", NoPayload, "The access token ran out; the server disconnects right after. Reconnect with a fresh token.")
SESSION_REVOKED = push(
    "session:revoked",
    Revoked,
    "This socket's session was ended (sign-out, or an account change); the server disconnects right after. "
    "Sign in again; the old tokens are refused.",
)


async def profile_changed(services, user: dict) -> dict:
    """Every device of the user hears the new profile; returns it as sent."""
    view = {"user": users.public(user)}
    await deliver(services, ME_UPDATED, view, users=[user["_id"]])
    return view


async def plan_changed(services, user_id) -> dict:
    """Push the user's `plan:get` data as it is now; returns the user document it was read from."""
    user = await users.get(services.db, str(user_id))
    view = plans.view(user, services.settings.plans, await tasks.usage(services.db, user["_id"]))
    await deliver(services, PLAN_UPDATED, view, users=[user["_id"]])
    return user


async def session_expired(services, sid: str) -> None:
    await deliver(services, SESSION_EXPIRED, {}, rooms=[sid])


async def session_revoked(services, sid: str, reason: str) -> None:
    await deliver(services, SESSION_REVOKED, {"reason": reason}, rooms=[sid])
