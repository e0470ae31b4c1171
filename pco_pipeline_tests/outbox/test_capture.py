"""Change capture (sql/0017): the church's own edits to the synced tables land in church_outbox as
they commit; the pipeline's own writes never do. Plain SQL on a connection of its own stands for any
other application writing the church database."""

from pathlib import Path

import sqlalchemy as sa

from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.paths import sql_dir
from pco_pipeline.sync import outbox
from pco_pipeline.sync.load_groups import GROUP_FIELDS
from pco_pipeline.sync.loading import begin_load
from pco_pipeline.sync.registry import DEFAULT, PCO
from pco_pipeline_tests.outbox.conftest import outbox_rows

PEOPLE_SYNCED = ["first_name", "last_name", "nickname", "middle_name", "gender", "birthdate", "child", "grade",
                 "status", "membership", "is_active"]


def write(engine: sa.Engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def test_another_applications_edits_of_synced_fields_are_captured_with_what_changed(engine):
    with engine.begin() as conn:
        ada, bob = conn.execute(sa.text(
            "INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Byron'), ('Bob', 'Adams') RETURNING id")
        ).scalars()
        family = conn.execute(sa.text("INSERT INTO families (name) VALUES ('Byron') RETURNING id")).scalar_one()
        conn.execute(sa.text("INSERT INTO family_members (family_id, person_id) VALUES (:f, :p)"), {"f": family, "p": ada})
    write(engine, "UPDATE people SET nickname = 'Addie', allergies = 'nuts' WHERE id = :p", p=ada)
    write(engine, "UPDATE people SET allergies = 'none', photo_url = 'x.png', is_verified = true")   # church-only
    write(engine, "UPDATE family_members SET role = 'head'")                                          # church-only
    write(engine, "UPDATE family_members SET is_primary_contact = true")
    write(engine, "DELETE FROM people WHERE id = :p", p=bob)

    captured = [(r.table_name, r.row_key, r.operation, list(r.changed_columns), r.status) for r in outbox_rows(engine)]
    assert captured == [
        ("people", str(ada), "insert", PEOPLE_SYNCED, "pending"),
        ("people", str(bob), "insert", PEOPLE_SYNCED, "pending"),
        ("families", str(family), "insert",
         ["name", "street_line_1", "street_line_2", "city", "state", "zip", "country_code"], "pending"),
        ("family_members", f"{family}:{ada}", "insert", ["is_primary_contact"], "pending"),
        ("people", str(ada), "update", ["nickname"], "pending"),
        ("family_members", f"{family}:{ada}", "update", ["is_primary_contact"], "pending"),
        ("people", str(bob), "delete", PEOPLE_SYNCED, "pending"),
    ]


def test_a_committed_edit_is_announced_on_the_church_outbox_channel(engine, database_url):
    listener = sa.create_engine(database_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with listener.connect() as conn:
        conn.exec_driver_sql(f"LISTEN {outbox.NOTIFY_CHANNEL}")
        write(engine, "INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Byron')")
        raw = conn.connection.driver_connection
        assert raw is not None
        notices = [(n.channel, n.payload) for n in raw.notifies(timeout=5, stop_after=1)]
    listener.dispose()
    assert notices == [(outbox.NOTIFY_CHANNEL, "people")]


def test_the_pipelines_own_writes_are_not_captured(engine, pipeline_engine):
    """Any write on the pipeline's engine (its connections carry the origin mark), and a load's or a
    dataset import's transaction even on a connection without the mark, write nothing to the outbox."""
    load_local_dataset(engine, {"people": [{"id": 1, "first_name": "Imported", "last_name": "Person"}],
                                "person_emails": [{"person_id": 1, "address": "imported@example.org"}]})
    write(pipeline_engine, "INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Byron')")
    write(pipeline_engine, "UPDATE people SET first_name = 'Adeline', pco_id = 'p' || id")
    with engine.begin() as conn:
        begin_load(conn, "people")
        conn.execute(sa.text("UPDATE people SET last_name = 'King'"))
        conn.execute(sa.text("DELETE FROM people"))
    assert outbox_rows(engine) == []


def test_migrating_an_existing_database_backfills_nothing(empty_database_url, tmp_path: Path):
    """A church database in use before change capture existed: its rows are not pushed as edits."""
    before = tmp_path / "sql"
    before.mkdir()
    for path in sql_dir().glob("*.sql"):
        if path.name < "0017":
            (before / path.name).write_text(path.read_text())
    engine = sa.create_engine(empty_database_url, poolclass=sa.pool.NullPool)
    apply_migrations(engine, before)
    write(engine, "INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Byron')")

    assert "0017_change_capture.sql" in apply_migrations(engine)
    assert outbox_rows(engine) == []
    write(engine, "UPDATE people SET first_name = 'Adeline'")
    assert [r.operation for r in outbox_rows(engine)] == ["update"]
    engine.dispose()


def test_every_column_the_registry_says_pco_keeps_is_watched_by_its_tables_triggers(engine):
    """The triggers name their synced columns in SQL: they must not drift from the registry's field
    map (a PCO-owned field the triggers ignored would never be pushed in real time)."""
    with engine.connect() as conn:
        watched = {}
        for table, args in conn.execute(sa.text(
                "SELECT c.relname, encode(t.tgargs, 'escape') FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE t.tgname LIKE '%_capture_%'")):
            watched.setdefault(table, set()).update(args.rstrip("\\000").split("\\000")[1:])
        columns = {table: set(conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table}).scalars())
            for table in watched}
    pushed = {table.table: table for entity in DEFAULT.entities if entity.pushes for table in entity.tables}
    # A linked group's two-way fields (the groups load's three-way fields), sent with the memberships.
    sent_with = {table.table for entity in DEFAULT.entities if entity.name in outbox.SENT_WITH
                 for table in entity.tables}
    assert set(watched) == set(pushed) | sent_with
    assert watched["church_group"] == {spec.name for spec in GROUP_FIELDS}
    for name, table in pushed.items():
        pco_columns = {f.name for f in table.fields if f.owner == PCO} & columns[name]
        assert pco_columns <= watched[name], f"{name}: not watched {sorted(pco_columns - watched[name])}"
        assert watched[name] <= columns[name]
