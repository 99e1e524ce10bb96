"""Posts and comments as the service's code handles them."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Post:
    seq: int
    post_id: str
    user_id: str
    symbol: str
    text: str
    cashtags: list[str]
    sentiment: float
    like_count: int
    comment_count: int
    created_at: datetime

    @property
    def symbols(self) -> list[str]:
        """Every feed the post appears in: its own ticker, then the tickers it mentions."""
        return [self.symbol, *(tag for tag in self.cashtags if tag != self.symbol)]


@dataclass(frozen=True, slots=True)
class Comment:
    seq: int
    comment_id: str
    post_id: str
    user_id: str
    text: str
    cashtags: list[str]
    sentiment: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SentimentBucket:
    start: datetime
    post_count: int
    mean_sentiment: float
    positive_count: int
    negative_count: int
