"""The auth service's public keys, cached so that verifying a token needs no call.

The cache is re-read every `refresh_seconds` (in the background: requests keep using
the keys they have) and early when a token names a key id not in it -- a key the
auth service just rotated in. Early re-reads are single-flight and at most one per
`min_refetch_seconds`: a request with an unknown key id waits for the next allowed
re-read (so a freshly rotated key is never refused) and shares it with every other
such request, so made-up key ids cannot turn into a call to the auth service each.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

log = logging.getLogger(__name__)

# Asymmetric algorithms only: with a symmetric one, the published key would forge tokens.
ACCEPTED_ALGORITHMS = frozenset({"EdDSA", "ES256"})

JwksFetcher = Callable[[], Awaitable[str]]


def parse_jwks(text: str) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by key id (others are skipped, logged)."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in json.loads(text).get("keys", []):
        kid, algorithm = entry.get("kid"), entry.get("alg")
        if not isinstance(kid, str) or algorithm not in ACCEPTED_ALGORITHMS:
            log.warning("JWKS entry skipped", extra={"kid": kid, "alg": algorithm})
            continue
        try:
            keys[kid] = jwt.PyJWK(entry)
        except jwt.PyJWKError as error:
            log.warning("JWKS entry unusable", extra={"kid": kid, "error": str(error)})
    return keys


class JwksCache:
    def __init__(
        self,
        fetch: JwksFetcher,
        refresh_seconds: float,
        min_refetch_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._refresh_seconds = refresh_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._document: dict[str, Any] = {"keys": []}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self.fetches = 0
        # Bumped whenever a key is withdrawn: what it verified no longer holds.
        self.version = 0

    @property
    def document(self) -> dict[str, Any]:
        """The JWKS as last fetched (served again by the gateway)."""
        return self._document

    async def key(self, kid: str) -> jwt.PyJWK | None:
        key = self._keys.get(kid)
        if key is not None:
            if self._stale():
                self._refresh_in_background()
            return key
        asked_at = self._clock()
        if self._attempted_at is not None:
            wait = self._min_refetch_seconds - (asked_at - self._attempted_at)
            if wait > 0:
                await asyncio.sleep(wait)
        await self.refresh(unless_fetched_since=asked_at)
        return self._keys.get(kid)

    async def ensure_loaded(self) -> dict[str, Any]:
        """The document, fetched first if the cache is empty or stale (for the JWKS route)."""
        if self._stale() and self._may_refetch():
            await self.refresh()
        return self._document

    async def refresh(self, unless_fetched_since: float | None = None) -> None:
        """Re-reads the JWKS; on failure the keys already held stay in use.

        Skipped when a read began at or after `unless_fetched_since` (default: now), as
        when another caller fetched while this one waited for the lock.
        """
        since = self._clock() if unless_fetched_since is None else unless_fetched_since
        async with self._lock:
            if self._attempted_at is not None and self._attempted_at >= since:
                return
            self._attempted_at = self._clock()
            self.fetches += 1
            try:
                text = await self._fetch()
                keys = parse_jwks(text)
            except Exception as error:
                log.warning("JWKS fetch failed", extra={"error": repr(error)})
                return
            if not self._keys.keys() <= keys.keys():
                self.version += 1
            self._keys = keys
            self._document = _public_document(text)
            self._fetched_at = self._clock()

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._refresh_seconds

    def _may_refetch(self) -> bool:
        return (
            self._attempted_at is None
            or self._clock() - self._attempted_at >= self._min_refetch_seconds
        )

    def _refresh_in_background(self) -> None:
        if (self._background is None or self._background.done()) and self._may_refetch():
            self._background = asyncio.create_task(self.refresh())

    async def close(self) -> None:
        if self._background is not None:
            self._background.cancel()


def _public_document(text: str) -> dict[str, Any]:
    """The document with public members only, whatever the auth service sent."""
    private_members = {"d", "p", "q", "dp", "dq", "qi", "k"}
    return {
        "keys": [
            {name: value for name, value in entry.items() if name not in private_members}
            for entry in json.loads(text).get("keys", [])
        ]
    }
