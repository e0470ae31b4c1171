"""What a church database must hold before webhooks are applied to it: the resources PCO's
webhooks report on (and the groups and group types their memberships hang from), extracted and
loaded without Dagster.

The webhook tests and the webhook latency benchmark start from it; a deployment gets the same
state from its first inbound sync.
"""

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.sync.extract import extract_resource
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people

WEBHOOK_RESOURCES = ("people/people", "people/person_mergers", "people/households", "groups/group_types",
                     "groups/groups", "groups/memberships")


def sync_webhook_resources(client: PCOClient, engine: sa.Engine) -> None:
    """Extract WEBHOOK_RESOURCES through `client` into the landing table, then run the people,
    families, groups and group memberships loads."""
    for resource in WEBHOOK_RESOURCES:
        extract_resource(client, engine, resource)
    load_people(engine)
    load_families(engine)
    load_groups(engine)
    load_group_memberships(engine)
