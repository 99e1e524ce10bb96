"""Why the auth service says no. Each carries a reason a person can read; the gRPC layer
maps the classes to status codes."""


class AuthError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidArgument(AuthError):
    """The request itself is malformed (a bad username, symbol, name...)."""


class AlreadyExists(AuthError):
    """A username or watchlist name already taken."""


class Unauthenticated(AuthError):
    """Wrong credentials, or a refresh token that is unknown, spent, expired or revoked."""


class NotFound(AuthError):
    """No such resource for this user; deliberately the same when it belongs to another."""


class LimitExceeded(AuthError):
    """A per-user limit (watchlists, symbols per watchlist) is reached."""
