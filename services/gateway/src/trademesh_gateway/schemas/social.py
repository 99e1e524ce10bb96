"""Posts, comments, likes and sentiment as the public API shows them."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trademesh_gateway.schemas.text import WireText

# The social service enforces the real limits (and says which); this only bounds the request.
MAX_TEXT_CHARS = 10_000
SentimentInterval = Literal["1h", "1d"]

_POST_EXAMPLE = {
    "post_id": "5b0e7c1e-8a3b-4f6e-9d51-0c2f4a7b9e10",
    "user_id": "alice",
    "symbol": "AAPL",
    "text": "$AAPL <3 earnings, see https://example.com/q3",
    "html": '<span class="cashtag" data-symbol="AAPL">$AAPL</span> &lt;3 earnings, see '
    '<a href="https://example.com/q3" rel="nofollow noopener noreferrer ugc" target="_blank">'
    "https://example.com/q3</a>",
    "cashtags": ["AAPL"],
    "sentiment": 0.4404,
    "like_count": 3,
    "comment_count": 1,
    "created_at": "2024-05-02T13:45:12.345678Z",
}


class NewText(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"text": "$AAPL looks strong"}]},
    )

    text: WireText = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="Plain text; `$SYMBOL` cashtags and http(s) links are recognised. "
        "Posts allow 1000 characters and comments 500 by default.",
    )


class Post(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_POST_EXAMPLE]})

    post_id: str
    user_id: str
    symbol: str = Field(description="The ticker the post was made on.")
    text: str = Field(description="As written. Escape it yourself, or display `html`.")
    html: str = Field(
        description="The text rendered for display: everything escaped; the only markup is "
        '`<a>` for http(s) links, `<span class="cashtag">` and `<br>`.'
    )
    cashtags: list[str] = Field(description="Tickers mentioned as `$SYMBOL`, upper-case.")
    sentiment: float = Field(ge=-1, le=1, description="VADER compound score: -1 to 1.")
    like_count: int
    comment_count: int
    created_at: datetime


class PostPage(BaseModel):
    posts: list[Post] = Field(description="Newest first.")
    next_page_token: str | None = Field(description="Pass as `page_token` for older posts.")


class Comment(BaseModel):
    comment_id: str
    post_id: str
    user_id: str
    text: str
    html: str
    cashtags: list[str]
    sentiment: float = Field(ge=-1, le=1)
    created_at: datetime


class CommentPage(BaseModel):
    comments: list[Comment] = Field(description="Oldest first.")
    next_page_token: str | None


class Like(BaseModel):
    post_id: str
    like_count: int
    newly_liked: bool = Field(description="False when the caller had already liked the post.")


class SentimentBucket(BaseModel):
    start: datetime
    post_count: int
    mean_sentiment: float
    positive_count: int = Field(description="Posts scoring at least 0.05.")
    negative_count: int = Field(description="Posts scoring at most -0.05.")


class Sentiment(BaseModel):
    symbol: str
    interval: SentimentInterval
    start: datetime = Field(description="Window start (inclusive).")
    end: datetime = Field(description="Window end (exclusive).")
    post_count: int
    mean_sentiment: float = Field(description="Mean over the window; 0 with no posts.")
    buckets: list[SentimentBucket] = Field(description="Oldest first; only buckets with posts.")
