"""Canonical article URLs: the key that makes the same story from two feeds one article.

Two links are the same article when they differ only in what does not choose the page:
scheme and host case, a default port, credentials, tracking parameters, the fragment,
a trailing slash, or the order of the remaining query parameters.
"""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "cmpid",
        "ocid",
        "ncid",
        "sr_share",
        "smid",
        "ref_src",
    }
)
MAX_URL_CHARS = 2048


class InvalidUrl(ValueError):
    pass


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(raw: str) -> str:
    """The canonical form of an http(s) URL; InvalidUrl for anything else."""
    text = raw.strip()
    if not text or len(text) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in text):
        raise InvalidUrl(f"not a usable URL: {raw[:100]!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InvalidUrl(f"not a usable URL: {raw[:100]!r} ({error})") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidUrl(f"only http(s) URLs with a host are accepted: {raw[:100]!r}")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(name)
    )
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))
