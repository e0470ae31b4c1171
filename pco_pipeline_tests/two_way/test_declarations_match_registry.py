"""The two-way declarations (`sync/two_way_entities.py`) and the entity registry say the same
thing about who owns what: every synced field is a column the registry's table has and does not
give the church, and the church-owned columns are the registry's church fields. (Until the
registry supplies the EntityFields itself, this keeps the two from drifting apart.)"""

from __future__ import annotations

import pytest

from pco_pipeline.sync.registry import CHURCH, DEFAULT
from pco_pipeline.sync.two_way_entities import ENTITIES


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_synced_fields_are_the_registrys_non_church_fields(name):
    church, _asset = DEFAULT.entity_of_table(name)
    table = church.table(name)
    declared = ENTITIES[name]
    registry_fields = {f.name for f in table.fields}
    assert set(declared.field_names) <= registry_fields, set(declared.field_names) - registry_fields
    assert not set(declared.field_names) & set(table.owned_by(CHURCH))
    assert set(declared.church_owned) == set(table.owned_by(CHURCH))
