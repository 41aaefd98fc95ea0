"""The benchmark data sets: generated once into a cache outside git, then copied into each run's own landing zone
with the last day of the facts held back, so the run can land "one more day" after the full build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from csops import contract
from lab.bench.options import DataSet
from lab.generator import run as generator_run
from lab.generator.writer import COMPRESSION
from csops.ingest import list_batches
from csops.ingest.validation import parsed_value
from csops.settings import Settings

CACHE_ENV = "CSOPS_BENCH_CACHE"
CACHE_META = "bench-cache.json"


@dataclass(frozen=True)
class CachedSet:
    folder: Path
    generate: dict  # the generate stage's measurement, as recorded when the cache was made
    created_at: str
    reused: bool

    @property
    def landing(self) -> Path:
        return self.folder / "landing"


def default_cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Settings.from_env().data_dir / "bench" / "cache").resolve()


def generator_fingerprint() -> str:
    """Hash of the generator's code and the contract: a cache made by other code is stale (its version string is
    not bumped for every change of the simulation)."""
    digest = hashlib.sha256()
    for path in [*sorted(Path(generator_run.__file__).parent.glob("*.py")), Path(contract.__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cached_set(data_set: DataSet, seed: int, cache_root: Path, make: Callable[[Path], dict]) -> CachedSet:
    """The cached landing zone of `data_set`; `make(landing)` generates it (and returns its measurement) when it is
    missing or was made with other parameters or generator code.

    The meta file is written last, into a folder renamed into place, so a crash never leaves a half-made cache.
    """
    folder = cache_root / f"{data_set.name}-{seed}"
    meta_path = folder / CACHE_META
    fingerprint = generator_fingerprint()
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if (meta["accounts"], meta["months"], meta.get("generator")) == (data_set.accounts, data_set.months,
                                                                          fingerprint):
            return CachedSet(folder, meta["generate"], meta["created_at"], reused=True)
    staging = cache_root / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    generate = make(staging / "landing")
    created_at = datetime.now().isoformat(timespec="seconds")
    meta = {"accounts": data_set.accounts, "months": data_set.months, "seed": seed, "generator": fingerprint,
            "generate": generate, "created_at": created_at}
    (staging / CACHE_META).write_text(json.dumps(meta, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return CachedSet(folder, generate, created_at, reused=False)


@dataclass(frozen=True)
class Holdback:
    day: date  # facts dated on or after this day were held back
    folder: Path  # <folder>/<source>/<file>: the batches that land after the full build
    rows: dict[str, int]

    def land(self, landing: Path) -> list[Path]:
        """Move the held-back batches into the landing zone (the "one more day")."""
        landed = []
        for path in sorted(self.folder.glob("*/*.parquet")):
            target = landing / path.parent.name / path.name
            stat = path.stat()
            shutil.move(path, target)
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            landed.append(target)
        return landed


def _timestamp_column(source: contract.Source) -> contract.Column:
    return next(c for c in source.columns if c.type == contract.TIMESTAMP and c.required)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # the cache and the run's folder are usually on one file system: no copy
    except OSError:
        shutil.copy2(source, target)


def prepare_landing(cached: Path, landing: Path, held: Path) -> Holdback:
    """Copy the cached landing zone to `landing`, except the fact rows of its last day (in the newest batch of each
    fact source), which go to `held`/<source>/<day>.parquet, modified a day after the batch they came from."""
    day = date.fromisoformat(json.loads((cached / "_manifest.json").read_text())["window"]["end"])
    rows: dict[str, int] = {}
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for name in contract.SOURCE_NAMES:
            spec = contract.SOURCES[name]
            (landing / name).mkdir(parents=True, exist_ok=True)
            batches = list_batches(cached, name)
            split = batches[-1] if spec.kind == "fact" and batches else None
            for batch in batches:
                if batch is not split:
                    _link(batch.path, landing / name / batch.name)
            if split is None:
                continue
            (held / name).mkdir(parents=True, exist_ok=True)
            # Ingest's own parse (offsets honoured, UTC); rows that do not parse stay in the batch.
            parsed = parsed_value(_timestamp_column(spec))
            later = f"coalesce(cast({parsed} as date) >= date '{day.isoformat()}', false)"
            read = f"read_parquet('{split.path}')"
            stat = split.path.stat()
            for target, condition, mtime in (
                (landing / name / split.name, f"not {later}", stat.st_mtime_ns),
                (held / name / f"{day.isoformat()}.parquet", later, stat.st_mtime_ns + 86_400 * 10**9),
            ):
                con.execute(f"COPY (SELECT * FROM {read} WHERE {condition}) TO '{target}' "
                            f"(FORMAT parquet, COMPRESSION {COMPRESSION})")
                os.utime(target, ns=(mtime, mtime))
            rows[name] = con.execute(f"SELECT count(*) FROM {read} WHERE {later}").fetchone()[0]
    shutil.copy2(cached / "_manifest.json", landing / "_manifest.json")
    return Holdback(day, held, rows)
