-- Per merchant, day and currency: transactions and spend from fct_transactions, next to what
-- the stream processor's one-minute windows counted for the same merchant and day.
with daily as (
    select
        merchant_name,
        transaction_date,
        currency_code,
        count(*) as transactions,
        sum(case when is_spend then 1 else 0 end) as spend_transactions,
        sum(spend_amount) as spend_amount,
        sum(case when status = 'refunded' then 1 else 0 end) as refunded_transactions,
        sum(case when status = 'declined' then 1 else 0 end) as declined_transactions
    from {{ ref('fct_transactions') }}
    group by merchant_name, transaction_date, currency_code
),

streamed as (
    select
        merchant_name,
        cast(window_start as date) as transaction_date,
        sum(transactions) as streamed_transactions
    from {{ ref('stg_realtime__merchant_minute_totals') }}
    group by merchant_name, cast(window_start as date)
)

select
    {{ dbt.concat(["daily.merchant_name", "'|'", dbt.cast("daily.transaction_date", dbt.type_string()),
                   "'|'", "daily.currency_code"]) }} as merchant_day_key,
    daily.merchant_name,
    daily.transaction_date,
    daily.currency_code,
    daily.transactions,
    daily.spend_transactions,
    daily.spend_amount,
    daily.refunded_transactions,
    daily.declined_transactions,
    streamed.streamed_transactions
from daily
left join streamed
    on streamed.merchant_name = daily.merchant_name
    and streamed.transaction_date = daily.transaction_date
