-- One thread, one case: a case merged into another keeps its number (it redirects to
-- the survivor) and is counted nowhere else.
ALTER TABLE cases ADD COLUMN merged_into BIGINT;
CREATE INDEX cases_merged_into ON cases(merged_into);
-- Every merge, with what it moved, so that an admin can undo it.
CREATE TABLE merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    survivor_id BIGINT NOT NULL REFERENCES cases(id),
    merged_id BIGINT NOT NULL REFERENCES cases(id),
    actor TEXT NOT NULL,
    automatic BOOLEAN NOT NULL,
    -- JSON: the row ids moved per table, and the survivor's fields before the merge.
    moved TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    undone_at TIMESTAMP
);
CREATE INDEX merges_survivor ON merges(survivor_id);
CREATE INDEX merges_merged ON merges(merged_id);
-- Cases one message tied together that were already worked in Casebook: "possibly
-- the same thread", offered for a one-click merge on both pages. Stored both ways.
CREATE TABLE case_links (
    case_id BIGINT NOT NULL REFERENCES cases(id),
    other_id BIGINT NOT NULL REFERENCES cases(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, other_id)
);
