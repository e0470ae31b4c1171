"""Migrations apply once, in order, refuse edited files, and survive concurrent callers."""

import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from pco_pipeline.db.errors import MigrationError
from pco_pipeline.db.migrations import apply_migrations, discover, pending
from pco_pipeline.paths import sql_dir


@pytest.fixture
def empty_engine(empty_database_url):
    eng = sa.create_engine(empty_database_url, poolclass=sa.pool.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def migrations_copy(tmp_path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(sql_dir(), target)
    return target


def test_fresh_database_gets_every_file_once(empty_engine):
    names = [m.name for m in discover()]
    assert apply_migrations(empty_engine) == names
    assert apply_migrations(empty_engine) == []
    assert pending(empty_engine) == []
    with empty_engine.connect() as conn:
        recorded = conn.execute(sa.text("SELECT name FROM schema_migrations ORDER BY name")).scalars().all()
    assert recorded == names


def test_edited_applied_file_is_refused_with_its_name(empty_engine, migrations_copy):
    apply_migrations(empty_engine, migrations_copy)
    first = sorted(migrations_copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- sneaky edit\n")
    with pytest.raises(MigrationError, match=first.name + ".*edited after it was applied"):
        apply_migrations(empty_engine, migrations_copy)


def test_new_file_is_applied_after_the_others(empty_engine, migrations_copy):
    apply_migrations(empty_engine, migrations_copy)
    (migrations_copy / "9999_add_note.sql").write_text("ALTER TABLE people ADD COLUMN note TEXT;")
    assert apply_migrations(empty_engine, migrations_copy) == ["9999_add_note.sql"]
    with empty_engine.connect() as conn:
        conn.execute(sa.text("SELECT note FROM people"))


def test_failing_file_rolls_back_and_is_not_recorded(empty_engine, migrations_copy):
    apply_migrations(empty_engine, migrations_copy)
    (migrations_copy / "9999_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nALTER TABLE no_such_table ADD COLUMN x int;")
    with pytest.raises(MigrationError, match="9999_broken.sql failed"):
        apply_migrations(empty_engine, migrations_copy)
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('half_done')")).scalar() is None
    assert pending(empty_engine, migrations_copy) == ["9999_broken.sql"]


def test_badly_named_file_is_rejected(migrations_copy):
    (migrations_copy / "add_stuff.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_description.sql"):
        discover(migrations_copy)


def test_concurrent_migrate_applies_each_file_exactly_once(empty_database_url):
    results, errors = [], []

    def migrate():
        eng = sa.create_engine(empty_database_url, poolclass=sa.pool.NullPool)
        try:
            results.append(apply_migrations(eng))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            eng.dispose()

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = [name for r in results for name in r]
    assert sorted(applied) == [m.name for m in discover()]
