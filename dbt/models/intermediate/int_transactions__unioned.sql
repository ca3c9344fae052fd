-- Every transaction of both pipelines in one shape: realtime card payments (positive amounts
-- with a status) and current batch statement lines (signed amounts) become a positive
-- `amount` with a `direction`, and the derived columns the marts share are computed here,
-- once. fct_transactions materializes it incrementally; the dimensions read it too.
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
    from {{ ref('int_batch__current_transactions') }}
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
    -- a category the seed does not know is its own group
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
