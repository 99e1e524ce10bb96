"""The auth service's business metrics, beside the shared RED metrics in the default registry."""

from prometheus_client import Counter

LOGIN_ATTEMPTS = Counter(
    "trademesh_auth_login_attempts_total",
    "Login attempts by outcome: success, invalid_credentials (the user's answer) or error"
    " (we failed: the database away, a bug). The login-success SLO counts error as bad.",
    ["outcome"],
)
# Present from the start: the SLO's error ratio reads 0, not "no data", until one happens.
for _outcome in ("success", "invalid_credentials", "error"):
    LOGIN_ATTEMPTS.labels(_outcome)
