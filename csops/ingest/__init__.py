"""Landing zone -> `raw` schema: validated, quarantined, deduplicated, idempotent."""

from csops.ingest.loader import (
    BatchResult,
    MissingRequiredSourceError,
    batches_loaded_by_run,
    ingest_source,
    list_batches,
)

__all__ = ["BatchResult", "MissingRequiredSourceError", "batches_loaded_by_run", "ingest_source", "list_batches"]
