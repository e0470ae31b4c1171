"""The entity registry: one declaration per synced entity generates its assets, job membership,
checks and reconciliation. A toy PCO resource and church entity added through the registry alone
(its SQL is a toy table and a toy load) appear in each; the default registry covers PCO's
reference and checks every mirrored table."""

import re

import dagster as dg
import pytest
import sqlalchemy as sa

from pco_pipeline.defs.church_db import resources as church_db_resources
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.inbound.build import definitions_for
from pco_pipeline.defs.pco import resources as pco_resources
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync.catalog import Extract, ResourceSpec
from pco_pipeline.sync.landing import land_page
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.loading import LoadCounts
from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline.sync.registry import (
    CHURCH, DEFAULT, ChurchAsset, ChurchEntity, Job, RegistryError, Table, church_field, counts_only, pco_fields)
from pco_pipeline_tests.sync.pco_docs import land, local_person, person
from pco_reference import CAPABILITIES

TOY = ResourceSpec(
    "toys/toys", "/toys/v2/toys", "Toy", cursor_attribute=None,
    normalizer=lambda attributes, _region: {"name": attributes.get("name"), "colour": attributes.get("colour")},
    extract=Extract("toys", "PCO toys (complete listing).", "(l.attributes->>'name')", job="sync_toys"))

TOY_STATE = ("SELECT pco_id, normalized->>'name' AS name, normalized->>'colour' AS colour,"
             " CAST(NULL AS jsonb) AS problems FROM pco_landing WHERE resource = 'toys/toys' AND removed_at IS NULL")


def load_toys(engine: sa.Engine) -> dict[str, LoadCounts]:
    with engine.begin() as conn:
        created = conn.execute(sa.text(
            f"INSERT INTO toys (pco_id, name, colour) SELECT s.pco_id, s.name, s.colour FROM ({TOY_STATE}) s"
            " WHERE NOT EXISTS (SELECT 1 FROM toys t WHERE t.pco_id = s.pco_id)")).rowcount
    return {"toys": LoadCounts(created=created)}


TOYS = ChurchEntity(
    "toys", load=counts_only(load_toys),
    tables=(Table("toys", "toys", (*pco_fields("name", "colour"), church_field("shelf", "where the church keeps it")),
                  TOY_STATE, "SELECT pco_id, name, colour FROM toys WHERE pco_id IS NOT NULL"),),
    assets=(ChurchAsset("toys", "PCO toys → the church's toy shelf.", entity="toys",
                        preview_columns="id, pco_id, name, colour, shelf", reads=("toys",), after=("people",),
                        quarantine_check=("toys",)),),
    job="sync_toys")

EXTENDED = DEFAULT.extended(resources=[TOY], entities=[TOYS], jobs=[Job("sync_toys", "PCO toys → church toys.")])

TOY_KEYS = {dg.AssetKey(["pco", "toys"]), dg.AssetKey(["church", "toys"])}


def _located(registry) -> dg.Definitions:
    """What `registry` generates, with the code location's resources (as `definitions.py` loads them)."""
    return dg.Definitions.merge(definitions_for(registry), church_db_resources.resources(), pco_resources.resources())


def _job_assets(definitions: dg.Definitions, job_name: str) -> set[dg.AssetKey]:
    return set(definitions.resolve_job_def(job_name).asset_layer.selected_asset_keys)


@pytest.fixture
def toy_table(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE toys (id BIGSERIAL PRIMARY KEY, pco_id TEXT UNIQUE, name TEXT, colour TEXT,"
                             " shelf TEXT, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"))


def test_a_toy_resource_declared_in_the_registry_gets_its_assets_jobs_and_checks():
    definitions = _located(EXTENDED)
    graph = definitions.resolve_asset_graph()
    assert TOY_KEYS <= graph.get_all_asset_keys()
    assert {d for d in graph.get(dg.AssetKey(["church", "toys"])).parent_keys} == {
        dg.AssetKey(["pco", "toys"]), dg.AssetKey(["church", "people"])}
    assert _job_assets(definitions, "sync_toys") == TOY_KEYS
    assert TOY_KEYS <= _job_assets(definitions, "full_sync")
    assert not TOY_KEYS & _job_assets(definitions, "sync_people")
    assert not TOY_KEYS & _job_assets(definitions, "sync_incremental")  # a complete listing: nightly only
    toy_checks = {key.name for key in graph.asset_check_keys if key.asset_key == dg.AssetKey(["church", "toys"])}
    assert toy_checks == {"toys_pco_id_unique", "toys_quarantine_size"}
    # Extending makes a new registry: the default one, and the code location built from it, have no toys.
    assert not TOY_KEYS & _located(DEFAULT).resolve_asset_graph().get_all_asset_keys()
    assert "toys" not in {t.entity for e in DEFAULT.entities for t in e.tables}


def test_the_toy_load_runs_as_its_asset_and_reconciliation_reports_its_row(engine, database_url, toy_table):
    land_page(engine, TOY, [Resource(type="Toy", id="1", attributes={"name": "Ball", "colour": "red"}),
                            Resource(type="Toy", id="2", attributes={"name": "Kite", "colour": "green"})])
    definitions = definitions_for(EXTENDED)
    church_toys = dg.AssetKey(["church", "toys"])
    (toy_load,) = [a for a in definitions.assets or [] if isinstance(a, dg.AssetsDefinition) and church_toys in a.keys]
    toy_checks = [check for check in definitions.asset_checks or []
                  if {key.asset_key for key in check.check_keys} == {church_toys}]
    result = dg.materialize([toy_load, *toy_checks],
                            resources={"church_db": PostgresResource(database_url=database_url)})
    assert result.success
    (materialization,) = result.asset_materializations_for_node("church__toys")
    assert materialization.metadata["created"].value == 2
    assert materialization.metadata["dagster/row_count"].value == 2
    assert "Kite" in str(materialization.metadata["preview"].value)
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"toys_pco_id_unique": True, "toys_quarantine_size": True}

    assert reconcile(engine, registry=EXTENDED).entities["toys"].in_sync
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE toys SET colour = 'blue' WHERE pco_id = '1'"))
        conn.execute(sa.text("UPDATE toys SET shelf = 'top' WHERE pco_id = '2'"))  # the church's own field
    toys = reconcile(engine, registry=EXTENDED).entities["toys"]
    assert (toys.pco_count, toys.local_count, toys.missing_locally, toys.extra_locally) == (2, 2, 0, 0)
    assert toys.differing == 1 and toys.field_differences == {"colour": 1}
    assert [(d.pco_id, d.pco_value, d.local_value) for d in toys.difference_examples] == [("1", "red", "blue")]
    assert "toys" not in reconcile(engine).entities


def _route(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)  # the parent's id, whatever each names it


def test_the_default_registry_reads_every_resource_of_pco_reference_but_those_it_says_it_does_not():
    read = {spec.name for spec in DEFAULT.resources}
    assert not read & set(DEFAULT.not_read)
    assert read | set(DEFAULT.not_read) == set(CAPABILITIES)
    for spec in DEFAULT.resources:
        row = CAPABILITIES[spec.name]
        assert (_route(spec.path), spec.pco_type) == (_route(row.path), row.type), spec.name
    # Every resource a webhook changes is landed by a pco/* asset (its lineage has somewhere to go).
    for subject, spec in DEFAULT.event_resources.items():
        assert DEFAULT.landing_asset(spec.name), subject


# Tables holding the pipeline's own bookkeeping about PCO ids, not a mirror of PCO records.
BOOKKEEPING_PREFIXES = ("pco_", "sync_", "webhook_")
BOOKKEEPING = {"church_deletions": "the outbound push's log of deleted linked rows",
               "push_unsettled": "the records the push's last comparison found not in sync (keyed by entity and PCO id)"}


def test_every_church_table_with_a_pco_id_has_a_uniqueness_check(engine):
    with engine.connect() as conn:
        tables = set(conn.execute(sa.text(
            "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t"
            " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE c.table_schema = current_schema() AND c.column_name = 'pco_id' AND t.table_type = 'BASE TABLE'"
        )).scalars())
    mirrors = {t for t in tables if not t.startswith(BOOKKEEPING_PREFIXES) and t not in BOOKKEEPING}
    assert {"people", "person_emails", "event_times", "headcounts", "checkins"} <= mirrors  # the query found them
    checks = {key.name for key in _located(DEFAULT).resolve_asset_graph().asset_check_keys}
    assert {f"{table}_pco_id_unique" for table in mirrors} <= checks


def test_a_load_never_writes_the_fields_the_field_map_gives_the_church(engine):
    """Every church-owned people field keeps the church's value while the load writes PCO's over the rest."""
    people = next(t for e in DEFAULT.entities for t in e.tables if t.entity == "people")
    church_owned = people.owned_by(CHURCH)
    assert church_owned
    local_person(engine, "Ann", "Lee", pco_id="1")
    with engine.begin() as conn:
        types = dict(conn.execute(sa.text(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'people'")).all())
        values = {name: True if types[name] == "boolean" else f"church's {name}" for name in church_owned}
        conn.execute(sa.text(f"UPDATE people SET {', '.join(f'{n} = :{n}' for n in church_owned)}"), values)
    land(engine, "people/people", [person("1", "Annie", "Lee-Park")], listing=True)
    load_people(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.text(f"SELECT first_name, last_name, {', '.join(church_owned)} FROM people")).one()
    assert (row.first_name, row.last_name) == ("Annie", "Lee-Park")  # PCO's fields were written
    assert {name: getattr(row, name) for name in church_owned} == values


def test_a_registry_whose_entries_do_not_fit_together_says_which():
    with pytest.raises(RegistryError, match="church/toys: reads undeclared pco/\\* assets \\['toys'\\]"):
        DEFAULT.extended(entities=[TOYS], jobs=[Job("sync_toys", "")])
    with pytest.raises(RegistryError, match="pco/toys: job 'sync_toys' is not declared"):
        DEFAULT.extended(resources=[TOY])
    with pytest.raises(RegistryError, match="church/\\* assets declared twice: toys"):
        EXTENDED.extended(entities=[TOYS])
