"""The news service's configuration, from `TRADEMESH_*` environment variables."""

from pydantic import Field, field_validator

from trademesh_common.config import ServiceSettings
from trademesh_news.sources import SAMPLE_SOURCE, Source


class NewsSettings(ServiceSettings):
    service_name: str = "news"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/news"
    # TRADEMESH_NEWS_SOURCES, a JSON list of {"name", "kind": "feed"|"newsapi", "url",
    # "api_key_env"?}. The default is the bundled sample corpus alone.
    news_sources: list[Source] = Field(default_factory=lambda: [SAMPLE_SOURCE])
    # A source is fetched again only once its newest article is older than this...
    refresh_max_age_seconds: float = Field(default=900.0, gt=0)
    # ...and never more often than this, so a quiet or failing source is not hammered.
    refresh_min_interval_seconds: float = Field(default=60.0, ge=0)
    ingest_poll_seconds: float = Field(default=5.0, gt=0)
    ingest_workers: int = Field(default=4, gt=0, le=64)
    fetch_timeout_seconds: float = Field(default=10.0, gt=0)
    max_document_bytes: int = Field(default=2 * 1024 * 1024, gt=0)

    @field_validator("news_sources")
    @classmethod
    def _unique_names(cls, sources: list[Source]) -> list[Source]:
        names = [source.name for source in sources]
        if len(names) != len(set(names)):
            raise ValueError("news source names must be unique")
        return sources
