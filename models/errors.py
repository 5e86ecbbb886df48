"""The error vocabulary shared by HTTP and Socket.IO: one code, one status, one meaning."""

from typing import Any

ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "The payload is not an object or fails its schema; `details.fields` says which fields and why."),
    "invalid_signature": (400, "A Stripe webhook without a valid `Stripe-Signature` (missing, wrong, or older than the tolerance)."),
    "unknown_event": (400, "No event of that name exists."),
    "unauthorized": (401, "No valid access token (socket connection refused, or HTTP `Authorization` missing or bad)."),
    "invalid_credentials": (401, "Email or password is wrong (the two are not told apart)."),
    "invalid_token": (
        401,
        "The refresh token is unknown, expired, revoked or already used (reuse ends its session); a Firebase ID token does not "
        "verify; an email link's token is unknown, used or expired (then `400`).",
    ),
    "forbidden": (403, "The caller's role or relation to the object does not allow this."),
    "not_found": (404, "The object does not exist (or the caller may not know it exists)."),
    "email_taken": (409, "An account with that email (compared case-insensitively) exists."),
    "insufficient_funds": (409, "The wallet's available balance is smaller than the amount."),
    "wallet_frozen": (409, "An admin froze the wallet: it can receive money but not spend or withdraw it."),
    "invalid_state": (409, "The object is not in a state that allows this (e.g. a request someone already resolved)."),
    "idempotency_conflict": (409, "This `clientRequestId` was already used by you for this event with a different payload."),
    "email_not_verified": (403, "Verify your email first (the link in the verification email; `POST /api/auth/verify-email/resend` sends another)."),
    "account_exists": (
        409,
        "A local account has this email and the Firebase token does not vouch for it (`email_verified` false): sign in with the password.",
    ),
    "role_required": (400, "A first Firebase sign-in creates an account: say `role` (`customer` or `contractor`)."),
    "not_enabled": (404, "This sign-in method is not enabled on this server (Firebase: no `FIREBASE_PROJECT_ID`)."),
    "already_applied": (409, "The contractor has already applied to this task."),
    "blocked": (403, "One of the two users blocked the other: no direct room and no messages between them."),
    "payouts_not_enabled": (409, "Withdrawals need a connected Stripe account with payouts enabled (`payouts:onboard`)."),
    "plan_limit": (
        403,
        "Your plan's limit is reached: `details {limit, used, plan, kind}` (`listings` or `partners`; `userId` names whose limit). "
        "Finish or cancel something, or upgrade (`plan:subscribe`, `plan:portal`).",
    ),
    "plan_required": (403, "This needs a plan the caller does not have now; `details.plan` names it (profile add-ons: `elite`)."),
    "no_credits": (409, "No boost credits left this period: pay the boost from the wallet (`useCredit: false`), or wait for the next Elite month."),
    "invalid_referral_code": (400, 'No one has this referral code, or it is your own (`details.reason: "self"`); no account was made.'),
    "already_subscribed": (409, "The user already has a subscription: change or cancel it in the billing portal (`plan:portal`)."),
    "payload_too_large": (413, "The upload is larger than `MAX_UPLOAD_BYTES`; `details.maxBytes` says how large it may be."),
    "unsupported_type": (415, "The upload's content (not its name or declared type) is not an accepted file type."),
    "rate_limited": (429, "Too many attempts; `details.retryAfter` says how many seconds to wait."),
    "payments_unavailable": (
        503,
        "Payments are not configured on this server (no `STRIPE_SECRET_KEY`/`STRIPE_WEBHOOK_SECRET`) or Stripe could not be reached.",
    ),
    "plans_unavailable": (503, "Plans are not configured on this server (no `STRIPE_PRICE_PRO`/`STRIPE_PRICE_ELITE`, or no Stripe)."),
    "persistence_unavailable": (
        503,
        "The embedded database cannot make changes durable right now (e.g. the disk is full); nothing was changed. Try again later.",
    ),
    "not_ready": (503, "A dependency (MongoDB, Redis) is unreachable; `details.checks` says which (`GET /readyz` only)."),
    "internal": (500, "An unexpected failure; `details.errorId` matches the server's log line."),
}


class AppError(Exception):
    """A failure the client is told about, as `{"code", "message", "details"}`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, *, status: int | None = None) -> None:
        """`status` overrides the code's usual HTTP status where a route documents another (e.g. `400 invalid_token`)."""
        if code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self._status = status

    @property
    def status(self) -> int:
        return self._status or ERROR_CODES[self.code][0]

    def envelope(self) -> dict[str, Any]:
        return {"ok": False, "error": {"code": self.code, "message": self.message, "details": self.details}}


def ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}
