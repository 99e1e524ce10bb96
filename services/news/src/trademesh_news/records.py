"""Articles as the service's code handles them."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Article:
    seq: int
    article_id: str
    url: str
    title: str
    summary: str
    source: str
    symbols: list[str]
    published_at: datetime
    sample: bool


@dataclass(frozen=True, slots=True)
class NewArticle:
    url: str  # canonical
    title: str
    summary: str
    source: str
    symbols: list[str]
    published_at: datetime
    sample: bool
