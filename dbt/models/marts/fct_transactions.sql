{{
    config(
        materialized='incremental',
        unique_key='transaction_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        tmp_relation_type='transient',
        post_hook=[
            "{{ delete_replaced_batch_rows() }}"
        ],
    )
}}
-- Every transaction, realtime card payments and batch statement lines, in one shape
-- (int_transactions__unioned), materialized incrementally.
--
-- A run takes the rows written since the newest `updated_at` this table holds for their
-- source. That is exact because `stack load` copies half-open intervals [previous watermark,
-- new watermark): a later load never brings rows older than those an earlier one brought.
-- Per source, because `stack load` keeps a watermark per table (a source this table has no
-- row of yet contributes all its rows). Batch rows of a replaced file version are deleted
-- after the merge (post-hook), so the table equals the intermediate model. The sources
-- delete nothing else; a realtime row deleted by hand and cleared from raw by `stack load
-- --full-refresh` would stay here: the relationships tests to the dimensions (built
-- upstream, not from this table) then fail, and `stack transform --full-refresh` rebuilds it.
with transactions as (
    select * from {{ ref('int_transactions__unioned') }}
)
{%- if is_incremental() %},

loaded as (
    select source, max(updated_at) as loaded_until
    from {{ this }}
    group by source
)
{%- endif %}

select
    transactions.transaction_key,
    transactions.source,
    transactions.transaction_id,
    transactions.account_id,
    transactions.customer_name,
    transactions.merchant_name,
    transactions.category,
    transactions.category_group,
    transactions.amount,
    transactions.currency_code,
    transactions.status,
    transactions.direction,
    transactions.is_spend,
    transactions.spend_amount,
    transactions.transacted_at,
    transactions.transaction_date,
    transactions.transaction_month,
    transactions.source_file,
    transactions.updated_at
from transactions
{% if is_incremental() %}
left join loaded on loaded.source = transactions.source
where loaded.loaded_until is null or transactions.updated_at > loaded.loaded_until
{% endif %}
