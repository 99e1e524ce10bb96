-- Posts per ticker, the feeds they appear in, comments and likes.

CREATE TABLE posts (
    post_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Feed order. Taken under a transaction-scoped advisory lock (see store.py), so numbers
    -- become visible in order and keyset paging never skips a late-committing post.
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id text NOT NULL,
    symbol text NOT NULL,
    text text NOT NULL,
    cashtags text[] NOT NULL,
    sentiment double precision NOT NULL CHECK (sentiment BETWEEN -1 AND 1),
    like_count bigint NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    comment_count bigint NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
    created_at timestamptz NOT NULL
);

-- One row per feed a post appears in (its ticker and every cashtag it mentions), carrying
-- what the feed and the sentiment aggregate need so that both read one index.
CREATE TABLE post_symbols (
    symbol text NOT NULL,
    post_seq bigint NOT NULL,
    post_id uuid NOT NULL REFERENCES posts (post_id) ON DELETE CASCADE,
    sentiment double precision NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (symbol, post_seq)
);
CREATE INDEX post_symbols_by_time ON post_symbols (symbol, created_at) INCLUDE (sentiment);

CREATE TABLE comments (
    comment_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    post_id uuid NOT NULL REFERENCES posts (post_id) ON DELETE CASCADE,
    user_id text NOT NULL,
    text text NOT NULL,
    cashtags text[] NOT NULL,
    sentiment double precision NOT NULL CHECK (sentiment BETWEEN -1 AND 1),
    created_at timestamptz NOT NULL
);
CREATE INDEX comments_by_post ON comments (post_id, seq);

CREATE TABLE likes (
    post_id uuid NOT NULL REFERENCES posts (post_id) ON DELETE CASCADE,
    user_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);
