"""One user of the public API: signs up, logs in, keeps its token fresh, obeys 429s.

The simulator deliberately knows nothing a third-party client could not: it speaks only
the documented REST paths under `/api/v1`.
"""

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

API_PREFIX = "/api/v1"
# Never wait longer than this on one `Retry-After`: a bot's run is bounded in time.
MAX_RETRY_AFTER_SECONDS = 5.0
MAX_ATTEMPTS = 3


class ApiError(Exception):
    """A non-success answer, with the gateway's error envelope when there is one."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class CallStats:
    """What one client saw; bots add them up into the run's summary."""

    requests: int = 0
    throttled: int = 0
    errors_by_status: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def record_error(self, status: int) -> None:
        self.errors_by_status[status] = self.errors_by_status.get(status, 0) + 1


class GatewayClient:
    def __init__(self, http: httpx.AsyncClient, username: str, password: str) -> None:
        self._http = http
        self.username = username
        self._password = password
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self.stats = CallStats()

    @classmethod
    def new_user(cls, http: httpx.AsyncClient, prefix: str) -> "GatewayClient":
        # Random credentials per run: reruns against the same stack never collide.
        username = f"{prefix}-{secrets.token_hex(4)}"
        return cls(http, username, secrets.token_urlsafe(18))

    def _credentials(self) -> dict[str, str]:
        return {"username": self.username, "password": self._password}

    async def sign_up(self) -> None:
        await self._send("POST", "/auth/register", self._credentials(), auth=False)
        await self.log_in()

    async def log_in(self) -> None:
        tokens = await self._send("POST", "/auth/login", self._credentials(), auth=False)
        self._store_tokens(tokens)

    async def _refresh(self) -> None:
        if self._refresh_token is None:
            await self.log_in()
            return
        try:
            tokens = await self._send(
                "POST", "/auth/refresh", {"refresh_token": self._refresh_token}, auth=False
            )
        except ApiError as error:
            if error.status != 401:
                raise
            await self.log_in()  # the refresh token expired or was revoked: start over
            return
        self._store_tokens(tokens)

    def _store_tokens(self, tokens: dict[str, Any]) -> None:
        self._access_token = tokens["access_token"]
        self._refresh_token = tokens["refresh_token"]

    @property
    def access_token(self) -> str | None:
        return self._access_token

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._send("GET", path, None, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._send("POST", path, body)

    async def delete(self, path: str) -> Any:
        return await self._send("DELETE", path, None)

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        refreshed = False
        for _ in range(MAX_ATTEMPTS):
            headers = {}
            if auth and self._access_token is not None:
                headers["Authorization"] = f"Bearer {self._access_token}"
            loop = asyncio.get_running_loop()
            started = loop.time()
            response = await self._http.request(
                method, API_PREFIX + path, json=body, params=params, headers=headers
            )
            self.stats.requests += 1
            self.stats.latencies_ms.append((loop.time() - started) * 1000)
            if response.status_code == 429:
                self.stats.throttled += 1
                await asyncio.sleep(_retry_after(response))
                continue
            if response.status_code == 401 and auth and not refreshed:
                refreshed = True  # the access token expired mid-run: refresh once and retry
                await self._refresh()
                continue
            if response.is_success:
                return response.json() if response.content else None
            self.stats.record_error(response.status_code)
            raise _api_error(response)
        raise ApiError(429, "rate_limited", f"{method} {path}: still throttled after retries")


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "http_error", response.text[:200])
