"""The csops Dagster code location: wiring only; domain logic lives in the `csops` package."""
