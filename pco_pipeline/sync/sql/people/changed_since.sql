-- The PCO ids of the people an incremental people load looks at: everything that can change
-- what the load writes for a person (their record, emails or phones; the church's rows; the
-- base; a conflict or a quarantine entry) changed at or after :since, plus every person an
-- unapplied conflict or an open quarantine entry names (their decision or re-check is the
-- load's to make on every run). Each part reads an index (sql/0019) or a small table.
SELECT l.pco_id FROM pco_landing AS l
WHERE l.resource = 'people/people' AND l.changed_at >= :since
UNION
SELECT l.pco_id FROM pco_landing AS l
WHERE l.resource = 'people/people' AND l.removed_at >= :since
UNION
SELECT l.parent_pco_id FROM pco_landing AS l
WHERE
    l.resource IN ('people/emails', 'people/phone_numbers')
    AND l.changed_at >= :since AND l.parent_pco_id IS NOT NULL
UNION
SELECT l.parent_pco_id FROM pco_landing AS l
WHERE
    l.resource IN ('people/emails', 'people/phone_numbers')
    AND l.removed_at >= :since AND l.parent_pco_id IS NOT NULL
UNION
SELECT p.pco_id FROM people AS p
WHERE p.updated_at >= :since AND p.pco_id IS NOT NULL
UNION
SELECT p.pco_id FROM person_emails AS c INNER JOIN people AS p ON c.person_id = p.id
WHERE c.updated_at >= :since AND p.pco_id IS NOT NULL
UNION
SELECT p.pco_id FROM person_phones AS c INNER JOIN people AS p ON c.person_id = p.id
WHERE c.updated_at >= :since AND p.pco_id IS NOT NULL
UNION
SELECT b.pco_id FROM sync_base AS b
WHERE b.entity = 'people' AND b.agreed_at >= :since
UNION
SELECT d.pco_id FROM church_deletions AS d
WHERE d.local_table = 'people' AND (d.deleted_at >= :since OR d.pushed_at >= :since)
UNION
SELECT sc.pco_id FROM sync_conflicts AS sc
WHERE sc.entity = 'people' AND (sc.applied_at IS NULL OR sc.applied_at >= :since)
UNION
SELECT q.record_key FROM sync_quarantine AS q
WHERE q.entity = 'people' AND (q.resolved_at IS NULL OR q.resolved_at >= :since)
UNION
-- A contact's base, conflict, deletion or quarantine entry names the contact: its person is
-- the one PCO lists it under.
SELECT l.parent_pco_id
FROM (
    SELECT
        b.entity,
        b.pco_id
    FROM sync_base AS b
    WHERE b.entity IN ('person_emails', 'person_phones') AND b.agreed_at >= :since
    UNION ALL
    SELECT
        d.local_table,
        d.pco_id
    FROM church_deletions AS d
    WHERE
        d.local_table IN ('person_emails', 'person_phones')
        AND (d.deleted_at >= :since OR d.pushed_at >= :since)
    UNION ALL
    SELECT
        sc.entity,
        sc.pco_id
    FROM sync_conflicts AS sc
    WHERE
        sc.entity IN ('person_emails', 'person_phones')
        AND (sc.applied_at IS NULL OR sc.applied_at >= :since)
    UNION ALL
    SELECT
        q.entity,
        q.record_key
    FROM sync_quarantine AS q
    WHERE
        q.entity IN ('person_emails', 'person_phones')
        AND (q.resolved_at IS NULL OR q.resolved_at >= :since)
) AS named
INNER JOIN pco_landing AS l
    ON
        l.resource = CASE named.entity WHEN 'person_emails' THEN 'people/emails' ELSE 'people/phone_numbers' END
        AND named.pco_id = l.pco_id
WHERE l.parent_pco_id IS NOT NULL
