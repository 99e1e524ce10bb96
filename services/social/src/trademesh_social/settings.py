"""The social service's configuration, from `TRADEMESH_*` environment variables."""

from pydantic import Field

from trademesh_common.config import ServiceSettings
from trademesh_common.rate_limit import RateLimit

WINDOW_SECONDS = 60.0


class SocialSettings(ServiceSettings):
    service_name: str = "social"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/social"
    # Length limits, in characters (Unicode code points) after trimming.
    max_post_chars: int = Field(default=1000, gt=0, le=10_000)
    max_comment_chars: int = Field(default=500, gt=0, le=10_000)
    # Per user, each allowed all at once and then spread evenly over the minute.
    posts_per_minute: int = Field(default=10, gt=0)
    comments_per_minute: int = Field(default=30, gt=0)
    likes_per_minute: int = Field(default=120, gt=0)

    @property
    def post_limit(self) -> RateLimit:
        return RateLimit(self.posts_per_minute, WINDOW_SECONDS)

    @property
    def comment_limit(self) -> RateLimit:
        return RateLimit(self.comments_per_minute, WINDOW_SECONDS)

    @property
    def like_limit(self) -> RateLimit:
        return RateLimit(self.likes_per_minute, WINDOW_SECONDS)
