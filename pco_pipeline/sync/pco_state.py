"""PCO's state as the church tables should mirror it: the `pco_state_*` views (sql/0009_pco_state_views.sql).

One view per church entity, computed from the landing table, with the local column names and
values and the PCO ids of the rows it points at. The loads stage these rows and write them;
reconciliation compares them with what the church tables hold; psql reads the same views. The
mapping lives once, in the migration; this module names the views for the Python side.

Every view yields only records PCO still has, and a `problems` column (JSON array, NULL when
the record is fine): records with problems are quarantined rather than loaded.
"""

from __future__ import annotations

# The local auto-created root of all PCO groups, and the pco_id prefixes of the church rows
# that mirror something other than a plain PCO record. The views write the prefixes as literals
# (a view cannot read Python): keep both in step (tests load and list them through both).
PCO_GROUPS_DEPARTMENT = "pco_groups"
PCO_GROUPS_DEPARTMENT_NAME = "PCO Groups"
GROUP_TYPE_PREFIX = "group_type:"
UNTYPED_GROUPS_AREA = "group_type:none"
UNTYPED_GROUPS_AREA_NAME = "Other PCO groups"
CHECKIN_EVENT_PREFIX = "check-ins:"

# Each constant is a query over one view, usable as a subquery (`FROM (PEOPLE) s`); filters on
# the outer query (a load's `scope`) reach the view's base table: PostgreSQL inlines views.
PEOPLE = "SELECT * FROM pco_state_people"
PERSON_EMAILS = "SELECT * FROM pco_state_person_emails"
PERSON_PHONES = "SELECT * FROM pco_state_person_phones"
# Every PCO person merged away (directly or through a chain) and the person finally kept.
MERGE_SURVIVORS = "SELECT * FROM pco_state_merge_survivors"
FAMILIES = "SELECT * FROM pco_state_families"
FAMILY_MEMBERS = "SELECT * FROM pco_state_family_members"
GROUP_AREAS = "SELECT * FROM pco_state_group_areas"
GROUPS = "SELECT * FROM pco_state_groups"
GROUP_MEMBERSHIPS = "SELECT * FROM pco_state_group_memberships"
EVENTS = "SELECT * FROM pco_state_events"
CHECKIN_EVENTS = "SELECT * FROM pco_state_checkin_events"
LOCATIONS = "SELECT * FROM pco_state_locations"
EVENT_TIMES = "SELECT * FROM pco_state_event_times"
HEADCOUNTS = "SELECT * FROM pco_state_headcounts"
CHECKINS = "SELECT * FROM pco_state_checkins"
