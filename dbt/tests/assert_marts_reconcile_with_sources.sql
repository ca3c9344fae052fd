-- The marts' totals equal the sources' (one row per check that does not): realtime straight
-- from raw (newest version per id), batch through its current versions (int_batch__current_*: raw keeps replaced file versions).
-- Returns nothing when everything reconciles.
with checks as (
    select 'realtime transactions' as check_name,
           (select count(distinct transaction_id) from {{ source('realtime', 'transactions_sink') }}) as expected,
           (select count(*) from {{ ref('fct_transactions') }} where source = 'realtime') as actual
    union all
    select 'realtime amount',
           (select sum(amount) from {{ ref('stg_realtime__transactions') }}),
           (select sum(amount) from {{ ref('fct_transactions') }} where source = 'realtime')
    union all
    select 'batch transactions',
           (select count(*) from {{ ref('int_batch__current_transactions') }}),
           (select count(*) from {{ ref('fct_transactions') }} where source = 'batch')
    union all
    select 'batch net amount',
           (select sum(amount) from {{ ref('int_batch__current_transactions') }}),
           (select sum(case when direction = 'credit' then amount else -amount end)
            from {{ ref('fct_transactions') }} where source = 'batch')
    union all
    select 'monthly spend',
           (select sum(spend_amount) from {{ ref('fct_transactions') }}),
           (select sum(spend_amount) from {{ ref('mart_monthly_spend') }})
    union all
    select 'merchant daily spend',
           (select sum(spend_amount) from {{ ref('fct_transactions') }}),
           (select sum(spend_amount) from {{ ref('mart_merchant_daily') }})
    union all
    select 'merchant daily transactions',
           (select count(*) from {{ ref('fct_transactions') }}),
           (select sum(transactions) from {{ ref('mart_merchant_daily') }})
    union all
    select 'accounts',
           (select count(distinct account_id) from {{ ref('fct_transactions') }}),
           (select count(*) from {{ ref('dim_accounts') }})
    union all
    select 'document line items amount',
           (select sum(items.amount)
            from {{ source('batch', 'document_line_items') }} as items
            inner join {{ ref('int_batch__current_documents') }} as documents
                on documents.document_id = items.document_id),
           (select sum(line_items_amount) from {{ ref('mart_documents') }})
)

-- Compared as decimal(38, 2): exact where sums are exact (DuckDB, Snowflake) and immune to
-- fakesnow adding NUMBER columns up as DOUBLE.
select check_name, expected, actual
from checks
where not (
    cast(expected as decimal(38, 2)) = cast(actual as decimal(38, 2))
    or (expected is null and actual is null)
)
