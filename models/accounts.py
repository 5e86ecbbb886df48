"""Sign-up, sign-in, token refresh and sign-out: the flows that hand out sessions, and the check that a token's session still stands.

Also what proves and changes credentials: email verification, password reset and change,
the list of a user's sessions, and sign-in with a verified Firebase ID token.
"""

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import access_tokens, clock, email_tokens, ledger, login_limits, referrals, refresh_tokens, roles, sessions, users
from models.db import Database
from models.errors import AppError
from models.passwords import hash_password, verify_password
from models.sessions import SessionsEnded


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    jwt_secret: str
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    bcrypt_rounds: int
    login_max_failures: int
    login_max_failures_per_ip: int
    login_failure_window_seconds: int
    email_token_ttl_seconds: int = 86_400
    reset_token_ttl_seconds: int = 1_800
    verification_resend_seconds: int = 60
    resets_per_hour: int = 3


@dataclass(frozen=True, slots=True)
class Client:
    """Where a sign-in comes from; recorded on its session."""

    ip: str
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a live access token speaks for: the role is the one stored on the user, not the token's."""

    user_id: str
    role: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AdminReady:
    user: dict[str, Any]
    previous: dict[str, Any] | None = None
    """The account as it was before `--promote` made it an admin; None for a new account."""
    ended: SessionsEnded | None = None


class Accounts:
    def __init__(self, db: Database, policy: AuthPolicy) -> None:
        self.db = db
        self.policy = policy

    async def register(self, *, name: str, email: str, password: str, role: str, client: Client, referral_code: str | None = None) -> dict[str, Any]:
        """`referral_code`: whose referral this account came with (`400 invalid_referral_code` if no one's, or one's own)."""
        password_hash = await hash_password(password, self.policy.bcrypt_rounds)

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            referred_by = await referrals.referrer_of(self.db, session, referral_code, email)
            user = await users.insert(self.db, session, name=name, email=email, password_hash=password_hash, role=role, referred_by=referred_by)
            await ledger.open_wallet(self.db, session, user["_id"])
            return await self._signed_in(session, user, client)

        return await self.db.transaction(work)

    async def login(self, *, email: str, password: str, client: Client) -> dict[str, Any]:
        email_key, ip_key = f"email:{users.email_key(email)}", f"ip:{client.ip}"
        await login_limits.check(
            self.db,
            {email_key: self.policy.login_max_failures, ip_key: self.policy.login_max_failures_per_ip},
            self.policy.login_failure_window_seconds,
        )
        user = await users.find_by_email(self.db, None, email)
        if not await verify_password(password, user and user["passwordHash"], self.policy.bcrypt_rounds):
            await self.db.transaction(lambda session: login_limits.record_failure(self.db, session, [email_key, ip_key]))
            raise AppError("invalid_credentials", "Email or password is incorrect.")

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            await login_limits.clear(self.db, session, email_key)
            return await self._signed_in(session, user, client)

        return await self.db.transaction(work)

    async def refresh(self, refresh_token: str) -> dict[str, Any] | SessionsEnded | None:
        """New tokens for the session; None to refuse; `SessionsEnded` when the token was reused (its session is over, refuse too)."""

        async def work(session: AsyncClientSession) -> dict[str, Any] | SessionsEnded | None:
            used = await refresh_tokens.use(self.db, session, refresh_token)
            if used.reused_family is not None:
                await sessions.revoke(self.db, session, [used.reused_family], "token_reuse")
                return SessionsEnded("token_reuse", session_ids=(used.reused_family,))
            if used.token is None:
                return None
            user = await self.db[users.COLLECTION].find_one({"_id": used.token["userId"]}, session=session)
            if user is None:
                return None
            await sessions.renewed(self.db, session, used.token["family"], ttl_seconds=self.policy.refresh_token_ttl_seconds)
            return await self._session_for(session, user, used.token["family"])

        return await self.db.transaction(work)

    async def logout(self, refresh_token: str) -> SessionsEnded | None:
        """End the token's session (always succeeds; an unknown token ends nothing)."""

        async def work(session: AsyncClientSession) -> SessionsEnded | None:
            family = await refresh_tokens.family_of(self.db, session, refresh_token)
            if family is None:
                return None
            await self._end(session, [family], "logout")
            return SessionsEnded("logout", session_ids=(family,))

        return await self.db.transaction(work)

    async def authenticate(self, token: object) -> Identity:
        """A valid access token whose user exists, whose session is live and whose role still stands; else `unauthorized`.

        Two reads by primary key (the user and the session), made at socket connect and for
        HTTP bearer requests, never per event.
        """
        claims = access_tokens.verify(token, secret=self.policy.jwt_secret)
        if not ObjectId.is_valid(claims.user_id):
            raise AppError("unauthorized", "The access token is not valid.", {"reason": access_tokens.INVALID})
        user_id = ObjectId(claims.user_id)
        user, stored = await asyncio.gather(users.find(self.db, user_id), sessions.find(self.db, claims.session_id))
        if user is None or not sessions.is_live(stored, user_id) or user["role"] != claims.role or users.suspended(user):
            raise AppError("unauthorized", "This session has ended; sign in again.", {"reason": access_tokens.REVOKED})
        return Identity(claims.user_id, user["role"], claims.session_id, claims.expires_at)

    async def create_admin(self, *, email: str, password: str, name: str | None, promote: bool) -> AdminReady:
        """Create an admin. An existing account is refused unless `promote`: then it becomes an admin with this
        password, and every session it had ends (whoever held them, the new admin's credentials are the operator's)."""
        password_hash = await hash_password(password, self.policy.bcrypt_rounds)

        async def work(session: AsyncClientSession) -> AdminReady:
            existing = await users.find_by_email(self.db, session, email)
            if existing is None:
                user = await users.insert(
                    self.db, session, name=name or email.split("@")[0], email=email, password_hash=password_hash, role=roles.ADMIN
                )
                await ledger.open_wallet(self.db, session, user["_id"])
                return AdminReady(user)
            if not promote:
                raise AppError("email_taken", "An account with this email already exists.", {"role": existing["role"]})
            changes = {"role": roles.ADMIN, "passwordHash": password_hash} | ({"name": name} if name else {})
            await self.db[users.COLLECTION].update_one({"_id": existing["_id"]}, {"$set": changes}, session=session)
            ended = await self._end_all(session, existing["_id"], "promoted")
            return AdminReady(existing | changes, existing, SessionsEnded("promoted", session_ids=ended, user_ids=(str(existing["_id"]),)))

        return await self.db.transaction(work)

    # --- Email verification and passwords

    async def verification_token(self, user_id: ObjectId) -> tuple[dict[str, Any], str] | None:
        """`(user, token)` for a verification email, or None when the user is gone or already verified."""

        async def work(session: AsyncClientSession) -> tuple[dict[str, Any], str] | None:
            user = await self.db[users.COLLECTION].find_one({"_id": user_id}, session=session)
            if user is None or user.get("emailVerified"):
                return None
            token = await email_tokens.issue(self.db, session, user_id, email_tokens.VERIFY_EMAIL, ttl_seconds=self.policy.email_token_ttl_seconds)
            return user, token

        return await self.db.transaction(work)

    async def allow_verification_resend(self, user_id: str) -> None:
        """At most one resend per `verification_resend_seconds` per user (a conditional update), else `rate_limited`."""
        now = clock.now()
        earliest = now - timedelta(seconds=self.policy.verification_resend_seconds)
        key = ObjectId(user_id)

        async def work(session: AsyncClientSession) -> dict[str, Any] | None:
            return await self.db[users.COLLECTION].find_one_and_update(
                {"_id": key, "$or": [{"verificationSentAt": None}, {"verificationSentAt": {"$lte": earliest}}]},
                {"$set": {"verificationSentAt": now}}, {"emailVerified": 1}, session=session,
            )  # fmt: skip

        if await self.db.transaction(work) is None:
            user = await self.db[users.COLLECTION].find_one({"_id": key}, {"verificationSentAt": 1})
            wait = (user["verificationSentAt"] - earliest).total_seconds() if user and user.get("verificationSentAt") else 1
            raise AppError("rate_limited", "A verification email was sent a moment ago; check your inbox.", {"retryAfter": max(1, math.ceil(wait))})

    async def verify_email(self, token: str) -> dict[str, Any]:
        """The user, now verified; a used, unknown or expired token is `400 invalid_token`."""

        async def work(session: AsyncClientSession) -> dict[str, Any] | None:
            user_id = await email_tokens.consume(self.db, session, token, email_tokens.VERIFY_EMAIL)
            if user_id is None:
                return None
            return await users.mark_verified(self.db, session, user_id)

        user = await self.db.transaction(work)
        if user is None:
            raise AppError("invalid_token", "This link is not valid any more; ask for a new one.", status=400)
        return user

    async def password_reset_token(self, email: str, *, count: bool = True) -> tuple[dict[str, Any], str] | None:
        """`(user, token)` for a reset email; None for an unknown email or past `resets_per_hour` requests in the last hour.

        `count=False` for a retried send of the same request.
        """
        key = users.email_key(email)

        async def work(session: AsyncClientSession) -> tuple[dict[str, Any], str] | None:
            recent = await email_tokens.count_reset_request(self.db, session, key) if count else 0
            user = await users.find_by_email(self.db, session, email)
            if user is None or recent > self.policy.resets_per_hour:
                return None
            token = await email_tokens.issue(
                self.db, session, user["_id"], email_tokens.RESET_PASSWORD, ttl_seconds=self.policy.reset_token_ttl_seconds
            )
            return user, token

        return await self.db.transaction(work)

    async def reset_password(self, token: str, password: str) -> tuple[dict[str, Any], SessionsEnded]:
        """Set the new password from a reset link: the email counts as verified, every session of the user ends."""
        password_hash = await hash_password(password, self.policy.bcrypt_rounds)

        async def work(session: AsyncClientSession) -> tuple[dict[str, Any], SessionsEnded] | None:
            user_id = await email_tokens.consume(self.db, session, token, email_tokens.RESET_PASSWORD)
            if user_id is None:
                return None
            await self.db[users.COLLECTION].update_one({"_id": user_id}, {"$set": {"passwordHash": password_hash}}, session=session)
            user = await users.mark_verified(self.db, session, user_id)
            ended = await self._end_all(session, user_id, "password_reset")
            return user, SessionsEnded("password_reset", session_ids=ended, user_ids=(str(user_id),))

        outcome = await self.db.transaction(work)
        if outcome is None:
            raise AppError("invalid_token", "This link is not valid any more; ask for a new one.", status=400)
        return outcome

    async def change_password(self, identity: Identity, current: str, new: str, client: Client) -> tuple[dict[str, Any], SessionsEnded]:
        """Fresh tokens for the caller's session, and the user's other sessions ended; a wrong `current` counts as a failed sign-in."""
        user = await self.db[users.COLLECTION].find_one({"_id": ObjectId(identity.user_id)})
        email_key, ip_key = f"email:{user['emailKey']}", f"ip:{client.ip}"
        limits = {email_key: self.policy.login_max_failures, ip_key: self.policy.login_max_failures_per_ip}
        await login_limits.check(self.db, limits, self.policy.login_failure_window_seconds)
        if not await verify_password(current, user.get("passwordHash"), self.policy.bcrypt_rounds):
            await self.db.transaction(lambda session: login_limits.record_failure(self.db, session, [email_key, ip_key]))
            raise AppError("invalid_credentials", "The current password is not correct.")
        password_hash = await hash_password(new, self.policy.bcrypt_rounds)

        async def work(session: AsyncClientSession) -> tuple[dict[str, Any], SessionsEnded]:
            await self.db[users.COLLECTION].update_one({"_id": user["_id"]}, {"$set": {"passwordHash": password_hash}}, session=session)
            others = await self._end_all(session, user["_id"], "password_changed", keep=identity.session_id)
            await refresh_tokens.revoke_families(self.db, session, [identity.session_id])
            fresh = await self._session_for(session, user, identity.session_id)
            return fresh, SessionsEnded("password_changed", session_ids=others)

        return await self.db.transaction(work)

    async def live_sessions(self, user_id: str, current: str) -> list[dict[str, Any]]:
        return [sessions.public(found, current) for found in await sessions.of_user(self.db, ObjectId(user_id))]

    async def end_session(self, user_id: str, session_id: str) -> SessionsEnded:
        """End one of the caller's own sessions (another user's, or an unknown one, is `not_found`)."""

        async def work(session: AsyncClientSession) -> bool:
            found = await self.db[sessions.COLLECTION].find_one({"_id": session_id, "userId": ObjectId(user_id), "revokedAt": None}, session=session)
            if found is None:
                return False
            await self._end(session, [session_id], "signed_out_elsewhere")
            return True

        if not await self.db.transaction(work):
            raise AppError("not_found", "No such session of yours.")
        return SessionsEnded("signed_out_elsewhere", session_ids=(session_id,))

    # --- Firebase

    async def firebase_sign_in(self, claims: dict[str, Any], *, role: str | None, name: str | None, client: Client) -> dict[str, Any]:
        """Sign in with verified Firebase claims: the account of this Firebase user; else a local account with the same email, linked
        only when the token vouches for the email (`email_verified`), else `409 account_exists`; else a new account, which needs
        `role` (`400 role_required`)."""
        uid = claims["sub"]
        provider = (claims.get("firebase") or {}).get("sign_in_provider") if isinstance(claims.get("firebase"), dict) else None
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        vouched = claims.get("email_verified") is True

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            user = await self.db[users.COLLECTION].find_one({"firebase.uid": uid}, session=session)
            if user is None and email is not None:
                user = await users.find_by_email(self.db, session, email)
                if user is not None and not vouched:
                    raise AppError("account_exists", "An account with this email exists; sign in with its password first.")
            if user is None:
                if role not in roles.SELF_REGISTERED:
                    raise AppError("role_required", "Say whether you are a customer or a contractor.")
                if email is None:
                    raise AppError(
                        "invalid_request",
                        "The sign-in has no email address.",
                        {"fields": [{"field": "idToken", "message": "no email", "type": "value_error"}]},
                    )
                display = name or (claims.get("name") if isinstance(claims.get("name"), str) else None) or email.split("@")[0]
                user = await users.insert(self.db, session, name=display[:100], email=email, password_hash=None, role=role)
                await ledger.open_wallet(self.db, session, user["_id"])
            user = await users.link_firebase(self.db, session, user["_id"], uid, provider, verified=vouched)
            return await self._signed_in(session, user, client)

        return await self.db.transaction(work)

    async def _end(self, session: AsyncClientSession, session_ids: list[str], reason: str) -> None:
        await sessions.revoke(self.db, session, session_ids, reason)
        await refresh_tokens.revoke_families(self.db, session, session_ids)

    async def _end_all(self, session: AsyncClientSession, user_id: ObjectId, reason: str, *, keep: str | None = None) -> tuple[str, ...]:
        """End every live session of the user but `keep`; the ids of those ended."""
        ended = tuple(found for found in await sessions.live_of_user(self.db, session, user_id) if found != keep)
        await self._end(session, list(ended), reason)
        return ended

    async def _signed_in(self, session: AsyncClientSession, user: dict[str, Any], client: Client) -> dict[str, Any]:
        session_id = await sessions.start(
            self.db, session, user["_id"], ttl_seconds=self.policy.refresh_token_ttl_seconds, user_agent=client.user_agent, ip=client.ip
        )
        return await self._session_for(session, user, session_id)

    async def _session_for(self, session: AsyncClientSession, user: dict[str, Any], session_id: str) -> dict[str, Any]:
        refresh_token = await refresh_tokens.issue(
            self.db,
            session,
            user["_id"],
            ttl_seconds=self.policy.refresh_token_ttl_seconds,
            family=session_id,
        )
        return {
            "user": users.public(user),
            "accessToken": access_tokens.issue(
                str(user["_id"]), user["role"], session_id, secret=self.policy.jwt_secret, ttl_seconds=self.policy.access_token_ttl_seconds
            ),
            "refreshToken": refresh_token,
            "expiresIn": self.policy.access_token_ttl_seconds,
        }
