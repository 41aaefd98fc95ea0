"""`csops bench`: a benchmark harness measuring every stage of csops against physical baselines.

Modules: `options` (data sets, command options), `datasets` (the cache, the run's landing copy with one day held
back), `measure` (a child process's wall, CPU and peak memory), `stages` (the entry points each child runs),
`baselines` (the DuckDB anchor and the pandas version of the daily usage features), `incremental` (incremental marts
vs a full refresh), `report` (targets, JSON, Markdown) and `run` (the order of a run). See docs/benchmarks.md.
"""
