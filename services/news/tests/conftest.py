"""Fixtures for the news service's tests: a local HTTP server serving feed fixtures (the
third parties' formats, never their servers), fresh migrated databases on the devstack's
real PostgreSQL, and the service running in-process."""

import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from trademesh_common.db import migrate
from trademesh_news.app import MIGRATIONS_PACKAGE

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "fixture-key"
_CONTENT_TYPES = {".xml": "application/xml", ".json": "application/json", ".html": "text/html"}


class FeedServer:
    """Serves tests/fixtures/<name> at /<name>, plus a few misbehaving endpoints."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.api_keys: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] += 1
                if path == "/status/500":
                    self._send(500, b"upstream broke", "text/plain")
                elif path == "/huge.xml":
                    self._send(200, b"<rss>" + b" " * 3_000_000 + b"</rss>", "application/xml")
                elif path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/rss.xml")
                    self.end_headers()
                elif path == "/newsapi.json":
                    server.api_keys.append(self.headers.get("X-Api-Key"))
                    self._fixture("newsapi.json")
                else:
                    self._fixture(path.lstrip("/"))

            def _fixture(self, name: str) -> None:
                file = FIXTURES / name
                if "/" in name or not file.is_file():
                    self._send(404, b"not found", "text/plain")
                    return
                self._send(200, file.read_bytes(), _CONTENT_TYPES.get(file.suffix, "text/plain"))

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def news_api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIXTURE_NEWSAPI_KEY", API_KEY)
    return "FIXTURE_NEWSAPI_KEY"


@pytest.fixture
def fresh_dsn(devstack: Any) -> Callable[[], Any]:
    """`await fresh_dsn()`: a new, migrated database."""

    async def make() -> str:
        dsn = devstack.create_database(f"news_it_{uuid.uuid4().hex[:8]}")
        await migrate(dsn, MIGRATIONS_PACKAGE)
        return dsn

    return make


@pytest.fixture
async def news_pool(fresh_dsn: Callable[[], Any]) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(await fresh_dsn(), min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()
