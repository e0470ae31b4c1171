-- Incremental push planning (sql/0022): what the church changed, stated once for every church
-- table the push compares row by row (people, person_emails, person_phones, families), which
-- each entity's statement (pco_pipeline/sync/sql/push/) then reads.
-- Forward-only: never edit this file once applied; add a new numbered file instead.

-- The rows of `church_table` (keyed by `id`, linked by `pco_id`; `entity` is its sync_base
-- entity) changed at or after `since`, by their updated_at or by an outbox row (which a writer
-- stating an older updated_at still leaves), each with its PCO id (NULL: not linked) and, as a
-- second row with the same `local_id`, with the PCO id its base names (a row unlinked or
-- re-linked since still has its old record compared). Dynamic SQL, because the table is an
-- argument; planned at each call with `since` known, so each part reads its index
-- (<table>_updated_at_idx, church_outbox_changed_idx, sync_base_local_idx), and a row changed by
-- updated_at is read by that index alone (joined to its table, the changed rows of a 1%-changed
-- run were hashed against all 100,000 people). The outbox key is cast only for rows of this
-- table (CASE: other tables' keys, e.g. family_members' 'family:person', are not numbers and a
-- join may cast before filtering). ROWS 10: what an idle or lightly edited church returns; the
-- planner's default (1,000) made the family members' statement hash every family and person.
CREATE FUNCTION push_church_rows_since(entity TEXT, church_table TEXT, since TIMESTAMPTZ)
RETURNS TABLE (local_id BIGINT, pco_id TEXT)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
    RETURN QUERY EXECUTE format($statement$
        WITH changed AS MATERIALIZED (
            SELECT c.id, c.pco_id FROM %1$I AS c WHERE c.updated_at >= $1
            UNION
            SELECT c.id, c.pco_id FROM church_outbox AS o
            INNER JOIN %1$I AS c ON CASE WHEN o.table_name = $2 THEN CAST(o.row_key AS BIGINT) END = c.id
            WHERE o.table_name = $2 AND o.changed_at >= $1
        )
        SELECT changed.id, changed.pco_id FROM changed
        UNION
        SELECT b.local_id, b.pco_id FROM changed
        INNER JOIN sync_base AS b ON b.entity = $3 AND changed.id = b.local_id
    $statement$, church_table) USING since, church_table, entity;
END;
$$;
