"""The operational database as a Dagster resource (configured in `defs/resources.py`)."""

from contextlib import contextmanager
from functools import cache

import dagster as dg

from csops.opdb import open_opdb, sessions


@cache
def _engine(url: str):
    return open_opdb(url)  # migrated to head once per process


class OperationalDatabase(dg.ConfigurableResource):
    """Approvals, alerts and the agent's state: SQLite under the data folder or any SQLAlchemy URL
    (`CSOPS_OPDB_URL`; a password in it belongs in the environment, never in code)."""

    url: str

    @contextmanager
    def session(self):
        with sessions(_engine(self.url))() as session:
            yield session

    def engine(self):
        return _engine(self.url)

