-- The edge's D1 database (binding REPORTS): the report's daily aggregates, the analytics'
-- aggregate tables, the visitor sample and the console's team and draft. Applied with
-- `wrangler d1 migrations apply` (`cargo xtask demo` and the tests do it for the local
-- database; the README's deploy steps for Cloudflare's). `IF NOT EXISTS` throughout: a
-- database from before migrations, whose tables the edge created on first use, takes this
-- one as it is. The aggregates' columns must match their typed lists
-- (`rapport_rules::report`, `rapport_analytics::tables`); the edge's tests check that they do.

-- The report: one row per site, day, experience, variant and segment (the rule is a label).
CREATE TABLE IF NOT EXISTS daily (
    site TEXT NOT NULL, day TEXT NOT NULL, experience TEXT NOT NULL, rule TEXT NOT NULL,
    variant TEXT NOT NULL, segment TEXT NOT NULL,
    exposures INTEGER NOT NULL DEFAULT 0, impressions INTEGER NOT NULL DEFAULT 0,
    clicks INTEGER NOT NULL DEFAULT 0, dismissals INTEGER NOT NULL DEFAULT 0,
    answers INTEGER NOT NULL DEFAULT 0, score_sum INTEGER NOT NULL DEFAULT 0,
    promoters INTEGER NOT NULL DEFAULT 0, detractors INTEGER NOT NULL DEFAULT 0,
    conversions INTEGER NOT NULL DEFAULT 0, revenue REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, experience, variant, segment)
);

-- The analytics: each table keyed by the site and its labels, with summed measures.
CREATE TABLE IF NOT EXISTS arm_daily (
    site TEXT NOT NULL, rule TEXT NOT NULL, arm TEXT NOT NULL, day TEXT NOT NULL,
    visitors REAL NOT NULL DEFAULT 0, conversions REAL NOT NULL DEFAULT 0,
    revenue REAL NOT NULL DEFAULT 0, revenue_ss REAL NOT NULL DEFAULT 0,
    clicks REAL NOT NULL DEFAULT 0, clicks_ss REAL NOT NULL DEFAULT 0,
    answers REAL NOT NULL DEFAULT 0, score REAL NOT NULL DEFAULT 0,
    score_ss REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, rule, arm, day)
);

CREATE TABLE IF NOT EXISTS answer_daily (
    site TEXT NOT NULL, day TEXT NOT NULL, survey TEXT NOT NULL, segment TEXT NOT NULL,
    page_kind TEXT NOT NULL, experience TEXT NOT NULL, stage TEXT NOT NULL,
    answers REAL NOT NULL DEFAULT 0, promoters REAL NOT NULL DEFAULT 0,
    passives REAL NOT NULL DEFAULT 0, detractors REAL NOT NULL DEFAULT 0,
    satisfied REAL NOT NULL DEFAULT 0, score REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, survey, segment, page_kind, experience, stage)
);

CREATE TABLE IF NOT EXISTS comment_daily (
    site TEXT NOT NULL, day TEXT NOT NULL, survey TEXT NOT NULL, score TEXT NOT NULL,
    experience TEXT NOT NULL, page TEXT NOT NULL, comment TEXT NOT NULL,
    visitors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, survey, score, experience, page, comment)
);

CREATE TABLE IF NOT EXISTS stage_daily (
    site TEXT NOT NULL, day TEXT NOT NULL, stage TEXT NOT NULL,
    visitors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, stage)
);

CREATE TABLE IF NOT EXISTS movement_daily (
    site TEXT NOT NULL, day TEXT NOT NULL, from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,
    visitors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, from_stage, to_stage)
);

CREATE TABLE IF NOT EXISTS page_daily (
    site TEXT NOT NULL, day TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
    views REAL NOT NULL DEFAULT 0, landings REAL NOT NULL DEFAULT 0,
    quick_exits REAL NOT NULL DEFAULT 0, rage_clicks REAL NOT NULL DEFAULT 0,
    detractors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, path, kind)
);

CREATE TABLE IF NOT EXISTS search_days (
    site TEXT NOT NULL, day TEXT NOT NULL, query TEXT NOT NULL,
    searches REAL NOT NULL DEFAULT 0, total REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, query)
);

CREATE TABLE IF NOT EXISTS sold_out_daily (
    site TEXT NOT NULL, day TEXT NOT NULL, product TEXT NOT NULL, name TEXT NOT NULL,
    views REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, product, name)
);

CREATE TABLE IF NOT EXISTS segment_days (
    site TEXT NOT NULL, day TEXT NOT NULL, segment TEXT NOT NULL,
    visitors REAL NOT NULL DEFAULT 0, converters REAL NOT NULL DEFAULT 0,
    revenue REAL NOT NULL DEFAULT 0, answers REAL NOT NULL DEFAULT 0,
    promoters REAL NOT NULL DEFAULT 0, passives REAL NOT NULL DEFAULT 0,
    detractors REAL NOT NULL DEFAULT 0, clusters REAL NOT NULL DEFAULT 0,
    days_ss REAL NOT NULL DEFAULT 0, converting_ss REAL NOT NULL DEFAULT 0,
    cross REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, segment)
);

-- The visitor sample the console's impact runs over (`edge/src/sample.rs`).
CREATE TABLE IF NOT EXISTS visitor_sample (
    site TEXT NOT NULL, visitor_id TEXT NOT NULL, at_ms INTEGER NOT NULL, profile TEXT NOT NULL,
    PRIMARY KEY (site, visitor_id)
);
CREATE INDEX IF NOT EXISTS visitor_sample_recent ON visitor_sample (site, at_ms);

-- The console's team (`edge/src/team.rs`) and its saved draft (`edge/src/api/workspace.rs`).
CREATE TABLE IF NOT EXISTS console_users (
    name TEXT PRIMARY KEY COLLATE NOCASE, role TEXT NOT NULL, salt TEXT NOT NULL,
    hash TEXT NOT NULL, iterations INTEGER NOT NULL, invited_by TEXT NOT NULL,
    joined_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_invites (
    token_hash TEXT PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL,
    invited_by TEXT NOT NULL, expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_logins (
    id_hash TEXT PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_drafts (
    one INTEGER PRIMARY KEY CHECK (one = 1), files TEXT NOT NULL, base INTEGER,
    saved_ms INTEGER NOT NULL
);
