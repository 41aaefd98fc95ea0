"""Resource naming the landing-zone folder, so runs and tests can point ingest elsewhere."""

from pathlib import Path

import dagster as dg


class LandingZone(dg.ConfigurableResource):
    """The folder with one sub-folder per source, as docs/landing-contract.md describes."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)
