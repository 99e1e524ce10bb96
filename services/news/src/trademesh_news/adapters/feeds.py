"""RSS 2.0 and Atom 1.0 feeds.

Feeds are untrusted XML, parsed with defusedxml: an entity declaration (the billion-laughs
bomb, quadratic blow-up) or an external reference (XXE) makes the whole document a
FeedError instead of being expanded or fetched.
"""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from trademesh_news.drafts import (
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    Draft,
    FeedError,
    Parsed,
)
from trademesh_news.plain_text import plain_text

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"


def parse_feed(document: bytes) -> Parsed:
    """Either format, told apart by the root element."""
    try:
        root = fromstring(document)
    except DefusedXmlException as error:
        raise FeedError(f"forbidden XML construct: {type(error).__name__}") from None
    except ParseError as error:
        raise FeedError(f"not well-formed XML: {error}") from None
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise FeedError("RSS document without a channel")
        return _rss(channel)
    if root.tag == f"{ATOM}feed":
        return _atom(root)
    raise FeedError(f"neither RSS 2.0 nor Atom: root element is {root.tag[:80]!r}")


def _text(element: Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _rfc822(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rfc3339(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rss(channel: Element) -> Parsed:
    parsed = Parsed()
    for item in channel.iter("item"):
        title = plain_text(_text(item.find("title")), MAX_TITLE_CHARS)
        link = _text(item.find("link"))
        guid = item.find("guid")
        if not link and guid is not None and guid.get("isPermaLink", "true") != "false":
            link = _text(guid)
        summary_source = _text(item.find("description")) or _text(item.find(f"{CONTENT}encoded"))
        if not title:
            parsed.refuse("item without a title", {"link": link})
            continue
        if not link:
            parsed.refuse("item without a link", {"title": title})
            continue
        parsed.drafts.append(
            Draft(
                url=link,
                title=title,
                summary=plain_text(summary_source, MAX_SUMMARY_CHARS),
                published_at=_rfc822(_text(item.find("pubDate"))),
            )
        )
    return parsed


def _atom_link(entry: Element) -> str:
    for link in entry.iter(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href", "").strip()
    return ""


def _atom(feed: Element) -> Parsed:
    parsed = Parsed()
    for entry in feed.iter(f"{ATOM}entry"):
        title = plain_text(_text(entry.find(f"{ATOM}title")), MAX_TITLE_CHARS)
        link = _atom_link(entry)
        summary_source = _text(entry.find(f"{ATOM}summary")) or _text(entry.find(f"{ATOM}content"))
        published = _text(entry.find(f"{ATOM}published")) or _text(entry.find(f"{ATOM}updated"))
        if not title:
            parsed.refuse("entry without a title", {"link": link})
            continue
        if not link:
            parsed.refuse("entry without a link", {"title": title})
            continue
        parsed.drafts.append(
            Draft(
                url=link,
                title=title,
                summary=plain_text(summary_source, MAX_SUMMARY_CHARS),
                published_at=_rfc3339(published),
            )
        )
    return parsed
