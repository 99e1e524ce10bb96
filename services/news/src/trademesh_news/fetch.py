"""Getting a source's document: over HTTP with a deadline and a size cap, or from the package
for the sample corpus."""

import os
from importlib import resources

import httpx

from trademesh_news.drafts import FeedError
from trademesh_news.sources import SAMPLE_RESOURCE, Source

USER_AGENT = "trademesh-news/0.1 (+feed ingestion)"
ACCEPT = "application/rss+xml, application/atom+xml, application/json;q=0.9, */*;q=0.5"


class Fetcher:
    def __init__(self, client: httpx.AsyncClient, max_bytes: int) -> None:
        self._client = client
        self._max_bytes = max_bytes

    async def fetch(self, source: Source) -> bytes:
        if source.is_sample:
            return resources.files("trademesh_news").joinpath(SAMPLE_RESOURCE).read_bytes()
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
        if source.api_key_env is not None:
            key = os.environ.get(source.api_key_env)
            if not key:
                raise FeedError(f"environment variable {source.api_key_env} is not set")
            headers["X-Api-Key"] = key
        try:
            async with self._client.stream("GET", source.url, headers=headers) as response:
                if response.status_code != 200:
                    raise FeedError(f"HTTP {response.status_code} from {source.url}")
                body = bytearray()
                # Counted after decompression: a small gzip bomb is stopped just the same.
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self._max_bytes:
                        raise FeedError(f"document larger than {self._max_bytes} bytes")
                return bytes(body)
        except httpx.HTTPError as error:
            raise FeedError(f"fetch failed: {type(error).__name__}: {error}"[:300]) from None


def http_client(timeout_seconds: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=True,
        max_redirects=3,
    )
