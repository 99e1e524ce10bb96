"""News ingestion's business metrics, beside the shared RED metrics in the default registry."""

from prometheus_client import Counter

FETCHES = Counter(
    "trademesh_news_fetches_total",
    "Source fetches, by source and outcome (ok or failed).",
    ["source", "outcome"],
)
ARTICLES = Counter(
    "trademesh_news_articles_total",
    "Articles seen by ingestion, by source and outcome (added, duplicate or dead_lettered).",
    ["source", "outcome"],
)
