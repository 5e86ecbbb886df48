"""Sign-up, sign-in, token refresh and sign-out: the flows that hand out sessions."""

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from models import access_tokens, ledger, login_limits, refresh_tokens, users
from models.db import Database
from models.errors import AppError
from models.passwords import hash_password, verify_password


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    jwt_secret: str
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    bcrypt_rounds: int
    login_max_failures: int
    login_max_failures_per_ip: int
    login_failure_window_seconds: int


class Accounts:
    def __init__(self, db: Database, policy: AuthPolicy) -> None:
        self.db = db
        self.policy = policy

    async def register(self, *, name: str, email: str, password: str, role: str) -> dict[str, Any]:
        password_hash = await hash_password(password, self.policy.bcrypt_rounds)

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            user = await users.insert(self.db, session, name=name, email=email, password_hash=password_hash, role=role)
            await ledger.open_wallet(self.db, session, user["_id"])
            return await self._session_for(session, user)

        return await self.db.transaction(work)

    async def login(self, *, email: str, password: str, client_ip: str) -> dict[str, Any]:
        email_key, ip_key = f"email:{users.email_key(email)}", f"ip:{client_ip}"
        await login_limits.check(
            self.db,
            {email_key: self.policy.login_max_failures, ip_key: self.policy.login_max_failures_per_ip},
            self.policy.login_failure_window_seconds,
        )
        user = await users.find_by_email(self.db, email)
        if not await verify_password(password, user and user["passwordHash"], self.policy.bcrypt_rounds):
            await self.db.transaction(lambda session: login_limits.record_failure(self.db, session, [email_key, ip_key]))
            raise AppError("invalid_credentials", "Email or password is incorrect.")

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            await login_limits.clear(self.db, session, email_key)
            return await self._session_for(session, user)

        return await self.db.transaction(work)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        async def work(session: AsyncClientSession) -> dict[str, Any] | None:
            used = await refresh_tokens.use(self.db, session, refresh_token)
            if used is None:
                return None
            user = await self.db[users.COLLECTION].find_one({"_id": used["userId"]}, session=session)
            return user and await self._session_for(session, user, family=used["family"])

        result = await self.db.transaction(work)
        if result is None:
            raise AppError("invalid_token", "The refresh token is not valid; sign in again.")
        return result

    async def logout(self, refresh_token: str) -> None:
        await self.db.transaction(lambda session: refresh_tokens.revoke_family_of(self.db, session, refresh_token))

    async def create_admin(self, *, email: str, password: str, name: str | None) -> dict[str, Any]:
        """Create an admin, or promote (and reset the password of) an existing account."""
        password_hash = await hash_password(password, self.policy.bcrypt_rounds)

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            existing = await users.find_by_email(self.db, email, session)
            if existing is None:
                return await users.insert(self.db, session, name=name or email.split("@")[0], email=email, password_hash=password_hash, role="admin")
            changes = {"role": "admin", "passwordHash": password_hash} | ({"name": name} if name else {})
            await self.db[users.COLLECTION].update_one({"_id": existing["_id"]}, {"$set": changes}, session=session)
            return existing | changes

        return await self.db.transaction(work)

    def access_token_for(self, user_id: str, role: str) -> str:
        return access_tokens.issue(user_id, role, secret=self.policy.jwt_secret, ttl_seconds=self.policy.access_token_ttl_seconds)

    async def _session_for(self, session: AsyncClientSession, user: dict[str, Any], family: str | None = None) -> dict[str, Any]:
        refresh_token = await refresh_tokens.issue(
            self.db, session, user["_id"], ttl_seconds=self.policy.refresh_token_ttl_seconds, family=family,
        )
        return {
            "user": users.public(user),
            "accessToken": self.access_token_for(str(user["_id"]), user["role"]),
            "refreshToken": refresh_token,
            "expiresIn": self.policy.access_token_ttl_seconds,
        }
