"""The JSON shape of NewsAPI's article endpoints (`/v2/everything`, `/v2/top-headlines`):

    {"status": "ok", "totalResults": 2, "articles": [{"source": {"id": null, "name": "..."},
     "author": "...", "title": "...", "description": "...", "url": "https://...",
     "urlToImage": "...", "publishedAt": "2024-05-02T13:45:00Z", "content": "..."}]}

and on failure `{"status": "error", "code": "apiKeyInvalid", "message": "..."}`.
"""

from datetime import UTC, datetime
from typing import Any

import orjson

from trademesh_news.drafts import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, Draft, FeedError, Parsed
from trademesh_news.plain_text import plain_text

# What NewsAPI puts in place of an article taken down at its publisher's request.
_REMOVED = "[Removed]"


def _published(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_newsapi(document: bytes) -> Parsed:
    try:
        body = orjson.loads(document)
    except orjson.JSONDecodeError as error:
        raise FeedError(f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise FeedError("expected a JSON object")
    if body.get("status") == "error":
        raise FeedError(
            f"provider error {str(body.get('code'))[:60]}: {str(body.get('message'))[:200]}"
        )
    articles = body.get("articles")
    if body.get("status") != "ok" or not isinstance(articles, list):
        raise FeedError('expected {"status": "ok", "articles": [...]}')
    parsed = Parsed()
    for article in articles:
        if not isinstance(article, dict):
            parsed.refuse("article is not an object", article)
            continue
        title, url = article.get("title"), article.get("url")
        if not isinstance(title, str) or not title.strip() or title == _REMOVED:
            parsed.refuse("article without a title (or removed)", article)
            continue
        if not isinstance(url, str) or not url.strip():
            parsed.refuse("article without a url", article)
            continue
        description = article.get("description")
        parsed.drafts.append(
            Draft(
                url=url,
                title=plain_text(title, MAX_TITLE_CHARS),
                summary=plain_text(description, MAX_SUMMARY_CHARS)
                if isinstance(description, str)
                else "",
                published_at=_published(article.get("publishedAt")),
            )
        )
    return parsed
