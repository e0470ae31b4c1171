"""Database health: what the church database holds, as a job staff can launch."""


import dagster as dg
import sqlalchemy as sa

from pco_pipeline.db.inventory import table_counts
from pco_pipeline.defs.church_db.resources import PostgresResource


@dg.op(description="Counts the rows of every church table and reports which migrations are applied.")
def count_church_tables(context: dg.OpExecutionContext, church_db: PostgresResource) -> dict[str, int]:
    engine = church_db.get_engine()
    counts = table_counts(engine)
    with engine.connect() as conn:
        migrations = conn.execute(sa.text("SELECT name FROM schema_migrations ORDER BY name")).scalars().all()
    preview = "\n".join(["| table | rows |", "|---|---:|"] + [f"| {t} | {n} |" for t, n in counts.items()])
    context.add_output_metadata({
        "tables": dg.MetadataValue.md(preview),
        "migrations_applied": dg.MetadataValue.int(len(migrations)),
        "total_rows": dg.MetadataValue.int(sum(counts.values())),
    })
    return counts


@dg.job(description="Reports what the church database holds (row counts, migrations). Sends nothing to PCO.")
def check_database():
    count_church_tables()
