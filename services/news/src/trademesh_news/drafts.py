"""What an adapter makes of a fetched document: article drafts and the items it refused."""

from dataclasses import dataclass, field
from datetime import datetime

MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 1000
EXCERPT_CHARS = 500


class FeedError(Exception):
    """The whole document is unusable (not XML, a forbidden construct, a provider error)."""


@dataclass(frozen=True, slots=True)
class Draft:
    url: str  # as the feed gave it; canonicalised on ingestion
    title: str
    summary: str
    published_at: datetime | None  # None: the feed did not say (ingestion uses fetch time)


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    excerpt: str


@dataclass
class Parsed:
    drafts: list[Draft] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    def refuse(self, reason: str, item: object) -> None:
        self.refused.append(Refused(reason, repr(item)[:EXCERPT_CHARS]))
