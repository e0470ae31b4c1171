"""The church database as a Dagster resource."""


from typing import Optional

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr

from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import resolve_database


class PostgresResource(dg.ConfigurableResource):
    """The church's PostgreSQL database.

    Leave `database_url` empty to use DATABASE_URL, or the embedded server when that is unset
    (started on demand). Migrations are applied when a run first uses the resource.
    """

    database_url: Optional[str] = None

    _url: Optional[str] = PrivateAttr(default=None)

    def _resolved_url(self) -> str:
        if self._url is None:
            url = self.database_url or resolve_database().url
            apply_migrations(get_engine(url))
            self._url = url
        return self._url

    def get_engine(self) -> sa.Engine:
        """The pooled SQLAlchemy engine (psycopg 3), with the schema up to date."""
        return get_engine(self._resolved_url())


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"church_db": PostgresResource()})
