"""Code location entry point (`dagster dev -w workspace.yaml`, `dg`, `csops demo`)."""

from pathlib import Path

import dagster as dg

from csops.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    Settings.from_env().export()
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
