-- For outbox rows whose push ran: what a person must do in PCO for the change each one names
-- that PCO's API cannot take (an open needs-action row of the record for a changed column,
-- `load_groups`), NULL when there is none.
SELECT
    o.id,
    (
        SELECT string_agg(c.action_needed, '; ' ORDER BY c.field)
        FROM sync_conflicts AS c
        WHERE
            c.outcome = 'needs_action_in_pco'
            AND c.applied_at IS NULL
            AND c.entity = CASE o.table_name WHEN 'church_group' THEN 'church_groups' END
            AND c.local_id = cast(split_part(o.row_key, ':', 1) AS BIGINT)
            AND c.field = any(o.changed_columns)
    ) AS action_needed
FROM church_outbox AS o
WHERE o.id = any(:ids)
