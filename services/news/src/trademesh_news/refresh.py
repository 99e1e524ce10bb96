"""When a source is fetched again."""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    # Fetch again once the newest article we hold from the source is older than this.
    max_age: timedelta
    # Never sooner than this after the last attempt, so a source with nothing new (or one
    # that keeps failing) costs one request per interval, not one per poll.
    min_interval: timedelta

    def due(
        self,
        now: datetime,
        last_fetched_at: datetime | None,
        newest_published_at: datetime | None,
    ) -> bool:
        if last_fetched_at is None:
            return True
        if now - last_fetched_at < self.min_interval:
            return False
        return newest_published_at is None or now - newest_published_at >= self.max_age
