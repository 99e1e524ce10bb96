"""Where articles come from: configured sources, and the bundled sample corpus."""

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The bundled corpus is read from the package, not fetched.
SAMPLE_URL = "sample:corpus"
SAMPLE_RESOURCE = "sample/corpus.json"


class SourceKind(StrEnum):
    FEED = "feed"  # RSS 2.0 or Atom, told apart by the document
    NEWSAPI = "newsapi"  # NewsAPI's JSON article shape


class Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._ -]+$")
    kind: SourceKind
    url: str = Field(min_length=1, max_length=2048)
    # Name of an environment variable holding the provider's API key (sent as X-Api-Key):
    # the key itself never sits in configuration.
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @field_validator("url")
    @classmethod
    def _fetchable(cls, url: str) -> str:
        if url != SAMPLE_URL and not re.match(r"^https?://", url, re.IGNORECASE):
            raise ValueError(f"source url must be http(s) or {SAMPLE_URL!r}")
        return url

    @property
    def is_sample(self) -> bool:
        return self.url == SAMPLE_URL


SAMPLE_SOURCE = Source(name="Sample corpus", kind=SourceKind.NEWSAPI, url=SAMPLE_URL)
