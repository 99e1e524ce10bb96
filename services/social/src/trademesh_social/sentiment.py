"""Sentiment of a piece of text with VADER, a lexicon and rule-based scorer made for short
social-media text (it knows emphasis, negation, emoticons and slang)."""

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's own thresholds for calling a compound score positive or negative.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # loads the lexicon once per process


def sentiment_score(text: str) -> float:
    """The compound score: -1 (most negative) to 1 (most positive), 0 neutral."""
    return float(_analyzer().polarity_scores(text)["compound"])
