-- The aggregators' flushes D1 has taken (`edge/src/objects/aggregator/`): a flush writes
-- its id here in the same batch as its upserts, so a flush tried again after a failure is
-- never applied twice. Kept 7 days; `deltas` and `statements` say what each flush summed
-- and wrote (the bench reads them).
CREATE TABLE IF NOT EXISTS applied_flushes (
    id TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    deltas INTEGER NOT NULL,
    statements INTEGER NOT NULL
);
