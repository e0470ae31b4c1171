"""Outbound: the push jobs (church database → PCO): push_people, push_families, push_group_memberships, full_push."""
