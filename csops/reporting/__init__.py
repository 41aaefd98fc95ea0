"""Human-readable summaries of what the pipeline built."""
