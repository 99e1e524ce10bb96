"""Registration and login."""

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from trademesh_auth.errors import AlreadyExists, NotFound, Unauthenticated
from trademesh_auth.passwords import Passwords
from trademesh_auth.tokens import TokenPair, Tokens
from trademesh_auth.validation import USERNAME_PATTERN, validate_password, validate_username


@dataclass(frozen=True, slots=True)
class User:
    user_id: uuid.UUID
    username: str
    created_at: datetime


class Accounts:
    def __init__(self, pool: asyncpg.Pool, passwords: Passwords, tokens: Tokens) -> None:
        self._pool = pool
        self._passwords = passwords
        self._tokens = tokens

    async def register(self, username: str, password: str) -> User:
        validate_username(username)
        validate_password(password)
        password_hash = await self._passwords.hash(password)
        try:
            async with self._pool.acquire() as conn:
                row = await conn.fetchrow(
                    "INSERT INTO users (user_id, username, password_hash) VALUES ($1, $2, $3)"
                    " RETURNING user_id, username, created_at",
                    uuid.uuid4(),
                    username,
                    password_hash,
                )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"username {username!r} is taken") from None
        return User(**dict(row))

    async def login(self, username: str, password: str) -> TokenPair:
        row = None
        # Registration refuses every name outside the pattern, so no account has one (and
        # PostgreSQL cannot even compare one holding NUL): such a login is a wrong username.
        if USERNAME_PATTERN.fullmatch(username):
            async with self._pool.acquire() as conn:
                row = await conn.fetchrow(
                    "SELECT user_id, username, password_hash FROM users"
                    " WHERE lower(username) = lower($1)",
                    username,
                )
        stored_hash = row["password_hash"] if row is not None else None
        # Verified even for an unknown user (against a decoy), so timing tells nothing.
        if not await self._passwords.verify(stored_hash, password[:1024]) or row is None:
            raise Unauthenticated("wrong username or password")
        if self._passwords.needs_rehash(row["password_hash"]):
            await self._upgrade_hash(row["user_id"], password)
        return await self._tokens.start_session(row["user_id"], row["username"])

    async def _upgrade_hash(self, user_id: uuid.UUID, password: str) -> None:
        new_hash = await self._passwords.hash(password)
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, new_hash
            )

    async def get(self, user_id: uuid.UUID) -> User:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT user_id, username, created_at FROM users WHERE user_id = $1", user_id
            )
        if row is None:
            raise NotFound("user not found")
        return User(**dict(row))
