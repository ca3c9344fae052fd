{{ config(materialized='table', schema='marts') }}
-- One row per day: MetricFlow's time spine (metric_time joins to it). Wide enough for any
-- data the demo or a user generates; dbt.date_spine renders on DuckDB and Snowflake alike.
with days as (
    {{ dbt.date_spine(
        datepart="day",
        start_date="cast('2015-01-01' as date)",
        end_date="cast('2036-01-01' as date)",
    ) }}
)

select cast(date_day as date) as date_day
from days
