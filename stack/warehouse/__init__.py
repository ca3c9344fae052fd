"""Warehouse: incremental loads PostgreSQL -> DuckDB or Snowflake, dbt transforms, previews.

What the CLI and the Airflow DAG call (docs/warehouse.md):
`stack.warehouse.load.load`, `stack.warehouse.transform.transform` / `run_dbt`,
`stack.warehouse.preview.pull_window` / `summaries`, `stack.warehouse.status.warehouse_section`.
"""
