"""Landing zone -> `raw` schema: validated, quarantined, deduplicated, idempotent."""

from csops.ingest.loader import BatchResult, MissingRequiredSourceError, ingest_source, list_batches

__all__ = ["BatchResult", "MissingRequiredSourceError", "ingest_source", "list_batches"]
