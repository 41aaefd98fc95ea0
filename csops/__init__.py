"""csops: Customer Success operations as data pipelines."""
