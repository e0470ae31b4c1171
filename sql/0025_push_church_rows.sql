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
-- (<table>_updated_at_idx, church_outbox_changed_idx, sync_base_local_idx). The outbox key is
-- cast only in the select list of rows of this table (other tables' keys, e.g. family_members'
-- 'family:person', are not numbers).
CREATE FUNCTION push_church_rows_since(entity TEXT, church_table TEXT, since TIMESTAMPTZ)
RETURNS TABLE (local_id BIGINT, pco_id TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE format($statement$
        WITH changed AS MATERIALIZED (
            SELECT c.id FROM %1$I AS c WHERE c.updated_at >= $1
            UNION
            SELECT CAST(o.row_key AS BIGINT) FROM church_outbox AS o
            WHERE o.table_name = $2 AND o.changed_at >= $1
        )
        SELECT c.id, c.pco_id FROM changed INNER JOIN %1$I AS c ON changed.id = c.id
        UNION
        SELECT b.local_id, b.pco_id FROM changed
        INNER JOIN sync_base AS b ON b.entity = $3 AND changed.id = b.local_id
    $statement$, church_table) USING since, church_table, entity;
END;
$$;
