"""Why the social service says no. Each carries a reason a person can read; the gRPC layer
maps the classes to status codes."""


class SocialError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidRequest(SocialError):
    """A malformed field: empty or over-long text, a bad symbol, a foreign page token."""


class PostNotFound(SocialError):
    pass


class RateLimited(SocialError):
    def __init__(self, reason: str, retry_after_seconds: float) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(SocialError):
    """A dependency (Redis for rate limits) is down: refuse the write rather than let it
    through unlimited."""
