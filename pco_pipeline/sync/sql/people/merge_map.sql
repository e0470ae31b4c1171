-- The local people PCO merged away (directly or through a chain) and the local person kept,
-- for the merges not applied yet.
CREATE TEMP TABLE merge_map ON COMMIT DROP AS
SELECT
    r.id AS removed_id,
    k.id AS kept_id
FROM pco_state_merge_survivors AS v
INNER JOIN people AS r ON v.removed = r.pco_id
INNER JOIN people AS k ON v.kept = k.pco_id
WHERE r.id <> k.id AND r.merged_into_id IS DISTINCT FROM k.id
