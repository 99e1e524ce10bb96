"""News articles as the public API shows them."""

from datetime import datetime

from pydantic import BaseModel, Field


class Article(BaseModel):
    article_id: str
    url: str = Field(description="Canonical link (tracking parameters removed); http(s) only.")
    title: str = Field(description="Plain text.")
    summary: str = Field(description="Plain text; may be empty.")
    source: str
    symbols: list[str] = Field(description="Tickers the article is about.")
    published_at: datetime
    sample: bool = Field(description="True for the bundled sample corpus: fictional, not news.")


class ArticlePage(BaseModel):
    articles: list[Article] = Field(description="Newest first.")
    next_page_token: str | None


class SearchResult(BaseModel):
    article: Article
    rank: float = Field(description="Relevance; higher is better.")


class SearchResults(BaseModel):
    results: list[SearchResult] = Field(description="Best match first.")
