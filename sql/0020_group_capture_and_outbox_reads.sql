-- Church outbox, continued (issue 17's change capture, sql/0017):
-- Forward-only: never edit this file once applied; add a new numbered file instead.
--
-- 1. A linked group's two-way fields (name, description) edited by another application or by
--    staff are captured like the other synced tables: the group_memberships push sends a name
--    (`memberships_push.plan_renames`); a description PCO's API cannot take, so the groups load
--    lists it as needs action in PCO (sync_conflicts). Only linked PCO groups (level 3 with a
--    pco_id): the church's departments, areas and own groups go nowhere. Groups are never created
--    or deleted in PCO by the pipeline, so only updates are captured. The pipeline's own writes
--    (the groups load) carry the origin mark and are not captured (sql/0017).
-- 2. `needs_action`: an outbox row whose change the push cannot send (a description), ended with
--    the needs-action row's instruction as its reason; a person makes the change in PCO.
-- 3. `pco_read_at`: when the run holding the row finished reading PCO's current record of what
--    the row names (`outbox.refresh_pco_side`); cleared whenever a run claims the row. The people
--    push's hold trusts those records as read and lists PCO's changes only for the others.

ALTER TABLE church_outbox DROP CONSTRAINT church_outbox_status_check;
ALTER TABLE church_outbox ADD CONSTRAINT church_outbox_status_check
CHECK (status IN ('pending', 'failed', 'sent', 'quarantined', 'needs_action'));

ALTER TABLE church_outbox ADD COLUMN pco_read_at TIMESTAMPTZ;

-- What the backlog views (`pco-pipeline outbox`, the console) count: rows by status and table.
CREATE INDEX church_outbox_status_idx ON church_outbox (status, table_name);

CREATE TRIGGER church_group_capture_update AFTER UPDATE ON church_group
FOR EACH ROW WHEN (
    NOT written_by_pipeline()
    AND new.level = 3
    AND new.pco_id IS NOT NULL
    AND (old.name, old.description) IS DISTINCT FROM (new.name, new.description)
)
EXECUTE FUNCTION capture_church_change('id', 'name', 'description');
