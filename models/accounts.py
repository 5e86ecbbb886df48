"""Sign-up, sign-in, token refresh and sign-out: the flows that hand out sessions, and the check that a token's session still stands."""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import access_tokens, ledger, login_limits, refresh_tokens, roles, sessions, users
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

    async def register(self, *, name: str, email: str, password: str, role: str, client: Client) -> dict[str, Any]:
        password_hash = await hash_password(password, self.policy.bcrypt_rounds)

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            user = await users.insert(self.db, session, name=name, email=email, password_hash=password_hash, role=role)
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
            ended = await sessions.live_of_user(self.db, session, existing["_id"])
            await self._end(session, ended, "promoted")
            return AdminReady(existing | changes, existing, SessionsEnded("promoted", session_ids=tuple(ended), user_ids=(str(existing["_id"]),)))

        return await self.db.transaction(work)

    async def _end(self, session: AsyncClientSession, session_ids: list[str], reason: str) -> None:
        await sessions.revoke(self.db, session, session_ids, reason)
        await refresh_tokens.revoke_families(self.db, session, session_ids)

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
