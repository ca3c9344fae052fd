-- One row per account seen in either pipeline. Built from the transactions upstream of
-- fct_transactions, not from it: the fact's relationships test to this table checks that the
-- incremental fact holds no transaction its sources no longer have.
with transactions as (
    select * from {{ ref('int_transactions__unioned') }}
),

named as (
    -- the newest name the realtime pipeline gave the account
    select account_id, customer_name
    from (
        select
            account_id,
            customer_name,
            row_number() over (partition by account_id order by transacted_at desc, transaction_key) as recency
        from transactions
        where customer_name is not null
    ) as ranked
    where recency = 1
),

activity as (
    select
        account_id,
        count(*) as transactions,
        sum(case when source = 'realtime' then 1 else 0 end) as realtime_transactions,
        sum(case when source = 'batch' then 1 else 0 end) as batch_transactions,
        min(transaction_date) as first_transaction_date,
        max(transaction_date) as last_transaction_date
    from transactions
    group by account_id
)

select
    activity.account_id,
    named.customer_name,
    case
        when activity.realtime_transactions > 0 and activity.batch_transactions > 0 then 'both'
        when activity.realtime_transactions > 0 then 'realtime'
        else 'batch'
    end as seen_in,
    activity.transactions,
    activity.realtime_transactions,
    activity.batch_transactions,
    activity.first_transaction_date,
    activity.last_transaction_date
from activity
left join named on named.account_id = activity.account_id
