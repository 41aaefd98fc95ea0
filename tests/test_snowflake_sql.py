"""Every dbt model and data test, compiled as dbt renders it for Snowflake, is Snowflake SQL that means what it means
on DuckDB: DuckDB-only SQL belongs behind a cross-database macro (`dbt.*` or `macros/cross_db/`).

sqlglot parses the compiled SQL strictly as Snowflake. That alone accepts DuckDB-only functions (unknown names become
anonymous functions, and some DuckDB names are mapped to functions sqlglot knows) and SQL whose NULL handling differs
between the engines, so those are checked on the syntax tree.

dbt compiles in-process for the `snowflake` target without an account: the connection refuses to open, and the
adapter's two introspective calls the project makes, `get_relation` (for `is_incremental()`) and
`get_columns_in_relation`, are answered from the manifest, so incremental models compile in both branches.
"""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
import sqlglot
from dbt.adapters.snowflake import SnowflakeAdapter, SnowflakeColumn
from dbt.adapters.snowflake.connections import SnowflakeConnectionManager
from dbt.cli.main import dbtRunner
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError

from csops.settings import DBT_PROJECT_DIR

INCREMENTAL = " (incremental run)"
# Snowflake functions sqlglot does not know (it parses them as anonymous) or spells differently (NVL as COALESCE).
ALLOWED_SNOWFLAKE_FUNCTIONS = {"HASH"}


def compile_for_snowflake(flags: list[str], manifest, *, tables_exist: bool, select: list[str]) -> dict[str, str]:
    """Compiled SQL by node id, with `is_incremental()` true when `tables_exist`."""

    def get_relation(adapter, database, schema, identifier):
        return adapter.Relation.create(database, schema, identifier, type="table") if tables_exist else None

    def get_columns_in_relation(adapter, relation):
        node = manifest.nodes[f"model.csops.{relation.identifier}"]
        return [SnowflakeColumn(name, "varchar") for name in node.columns]

    with (
        mock.patch.object(SnowflakeAdapter, "get_relation", get_relation),
        mock.patch.object(SnowflakeAdapter, "get_columns_in_relation", get_columns_in_relation),
    ):
        result = dbtRunner(manifest=manifest).invoke(["compile", "--no-populate-cache", *select, *flags])
    assert result.success, result.exception
    # Seeds are CSV files: nothing to compile.
    return {r.node.unique_id: r.node.compiled_code for r in result.result.results if r.node.resource_type != "seed"}


@pytest.fixture(scope="module")
def compiled_sql(tmp_path_factory) -> dict[str, str]:
    """Compiled SQL of every model and data test (full refresh), plus the incremental models' incremental run."""
    tmp = tmp_path_factory.mktemp("dbt_snowflake")
    flags = [
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target", "snowflake",
        "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"), "--quiet",
    ]
    # Any query would try to log in to the placeholder account: fail at once rather than after the connector's retries.
    with mock.patch.object(SnowflakeConnectionManager, "open", side_effect=RuntimeError("no Snowflake in this test")):
        parsed = dbtRunner().invoke(["parse", *flags])
        assert parsed.success, parsed.exception
        full = compile_for_snowflake(flags, parsed.result, tables_exist=False, select=[])
        incremental = compile_for_snowflake(
            flags,
            parsed.result,
            tables_exist=True,
            select=["--select", "config.materialized:incremental", "--indirect-selection", "empty"],
        )
    return full | {node + INCREMENTAL: sql for node, sql in incremental.items()}


def portability_problems(tree: exp.Expression, sql: str) -> Iterator[str]:
    for node in tree.walk():
        if isinstance(node, exp.Func) and "start" in node.meta:
            # The name as written: sqlglot reads DuckDB's date_diff as DateDiff, which Snowflake spells DATEDIFF.
            name = sql[node.meta["start"] : node.meta["end"] + 1].upper()
            known = not isinstance(node, exp.Anonymous) and name == node.sql("snowflake").split("(", 1)[0].upper()
            if not known and name not in ALLOWED_SNOWFLAKE_FUNCTIONS:
                yield f"{name}() is no Snowflake function sqlglot knows (if Snowflake has it, allow-list it)"
        if isinstance(node, (exp.Greatest, exp.Least)) and not node.args.get("ignore_nulls"):
            yield f"{node.key.upper()}() skips NULLs on DuckDB only: use csops_greatest/csops_least"
        # sqlglot cannot tell an explicit DESC NULLS FIRST from a bare DESC, so DESC must say NULLS LAST.
        if isinstance(node, exp.Ordered) and node.args.get("desc") and node.args.get("nulls_first"):
            yield f"ORDER BY {node.sql('snowflake')}: NULLs sort last on DuckDB, first on Snowflake: add NULLS LAST"


def test_incremental_models_compile_in_both_branches(compiled_sql):
    incremental = {node.removesuffix(INCREMENTAL) for node in compiled_sql if node.endswith(INCREMENTAL)}
    assert "model.csops.fct_account_daily" in incremental
    assert all(compiled_sql[node] != compiled_sql[node + INCREMENTAL] for node in incremental)


def test_compiled_sql_is_snowflake_sql_that_means_the_same_on_duckdb(compiled_sql):
    problems = set()
    for node, sql in compiled_sql.items():
        try:
            trees = sqlglot.parse(sql, read="snowflake", error_level=ErrorLevel.RAISE)
        except ParseError as error:
            problems.add(f"{node}: not Snowflake SQL: {error}")
            continue
        problems.update(f"{node}: {problem}" for tree in trees for problem in portability_problems(tree, sql))
    assert not problems, "\n".join(sorted(problems))
