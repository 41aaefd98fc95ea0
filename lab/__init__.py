"""Lab: the synthetic-data generator, the benchmark and the evaluation harness. They drive the product from
outside; nothing in the product imports them (the import-boundary check holds it)."""
