-- Articles with their tickers and a full-text index; sources with their fetch history;
-- dead letters for whatever ingestion could not use.

CREATE TABLE sources (
    name text PRIMARY KEY,
    kind text NOT NULL,
    url text NOT NULL,
    last_fetched_at timestamptz,
    newest_published_at timestamptz,
    last_error text,
    fetch_count bigint NOT NULL DEFAULT 0
);

CREATE TABLE articles (
    article_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Tie-breaker for articles published at the same instant (keyset paging).
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    canonical_url text NOT NULL UNIQUE,
    title text NOT NULL,
    summary text NOT NULL,
    source text NOT NULL,
    symbols text[] NOT NULL,
    published_at timestamptz NOT NULL,
    fetched_at timestamptz NOT NULL,
    sample boolean NOT NULL,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, summary), 'B')
    ) STORED
);
CREATE INDEX articles_search ON articles USING gin (search);
CREATE INDEX articles_symbols ON articles USING gin (symbols);
CREATE INDEX articles_newest ON articles (published_at DESC, seq DESC);

CREATE TABLE dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    reason text NOT NULL,
    excerpt text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
