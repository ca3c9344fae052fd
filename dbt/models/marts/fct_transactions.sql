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
-- Every transaction, realtime card payments and batch statement lines, in one shape.
--
-- Incremental: each run takes the staging rows written since the newest `updated_at` this
-- table holds per source. That is exact because `stack load` copies half-open intervals
-- [previous watermark, new watermark): a later load never brings rows older than those an
-- earlier one brought. Batch rows of a replaced file version are deleted after the merge
-- (post-hook), so the table always equals staging.

with realtime as (
    select
        'realtime' as source,
        transaction_id,
        account_id,
        customer_name,
        merchant_name,
        category,
        amount,
        currency_code,
        status,
        case when status = 'refunded' then 'credit' else 'debit' end as direction,
        status in ('authorized', 'captured') as is_spend,
        cast(created_at as {{ type_timestamp_tz() }}) as transacted_at,
        cast(created_at as date) as transaction_date,
        cast(null as {{ dbt.type_string() }}) as source_file,
        updated_at
    from {{ ref('stg_realtime__transactions') }}
    {% if is_incremental() %}
    where updated_at > (
        select coalesce(max(updated_at), {{ epoch_timestamp_tz() }})
        from {{ this }} where source = 'realtime'
    )
    {% endif %}
),

batch as (
    select
        'batch' as source,
        transaction_id,
        account_id,
        cast(null as {{ dbt.type_string() }}) as customer_name,
        merchant_name,
        category,
        abs(amount) as amount,
        currency_code,
        'posted' as status,
        case when amount < 0 then 'debit' else 'credit' end as direction,
        amount < 0 as is_spend,
        cast(posted_date as {{ type_timestamp_tz() }}) as transacted_at,
        posted_date as transaction_date,
        source_file,
        updated_at
    from {{ ref('stg_batch__transactions') }}
    {% if is_incremental() %}
    where updated_at > (
        select coalesce(max(updated_at), {{ epoch_timestamp_tz() }})
        from {{ this }} where source = 'batch'
    )
    {% endif %}
),

unioned as (
    select * from realtime
    union all
    select * from batch
)

select
    {{ dbt.concat(["unioned.source", "':'", "unioned.transaction_id"]) }} as transaction_key,
    unioned.source,
    unioned.transaction_id,
    unioned.account_id,
    unioned.customer_name,
    unioned.merchant_name,
    unioned.category,
    coalesce(groups.category_group, unioned.category) as category_group,
    unioned.amount,
    unioned.currency_code,
    unioned.status,
    unioned.direction,
    unioned.is_spend,
    cast(case when unioned.is_spend then unioned.amount else 0 end as decimal(12, 2)) as spend_amount,
    unioned.transacted_at,
    unioned.transaction_date,
    cast({{ dbt.date_trunc('month', 'unioned.transaction_date') }} as date) as transaction_month,
    unioned.source_file,
    unioned.updated_at
from unioned
left join {{ ref('category_groups') }} as groups on groups.category = unioned.category
