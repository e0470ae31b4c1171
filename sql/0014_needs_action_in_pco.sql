-- Two-way sync: what PCO's API cannot take (issue 16 item 5) is recorded in sync_conflicts as a
-- "needs action in PCO" row: a church change (a family deleted whose PCO household remains, …)
-- that staff must make in PCO themselves. It is open until a person says it is done
-- (`conflicts resolve ID --take church`), and applied once the push no longer sees it (PCO now
-- matches the church). The church's change stands meanwhile: its policy is 'church'.
ALTER TABLE sync_conflicts DROP CONSTRAINT sync_conflicts_outcome_check;
ALTER TABLE sync_conflicts ADD CONSTRAINT sync_conflicts_outcome_check
CHECK (outcome IN ('church_wins', 'pco_wins', 'held', 'needs_action_in_pco'));

-- What staff must do in PCO, in words naming the records (only on needs-action rows).
ALTER TABLE sync_conflicts ADD COLUMN action_needed TEXT;

-- Open rows wait for a person: conflicts a policy held, and changes needing action in PCO.
ALTER TABLE sync_conflicts DROP CONSTRAINT sync_conflicts_check2;
ALTER TABLE sync_conflicts ADD CONSTRAINT sync_conflicts_open_waits_for_a_person
CHECK (outcome IN ('held', 'needs_action_in_pco') OR decided_at IS NOT NULL);
ALTER TABLE sync_conflicts ADD CONSTRAINT sync_conflicts_action_needed_explained
CHECK ((outcome = 'needs_action_in_pco') = (action_needed IS NOT NULL));
