-- One row per merchant name across both pipelines, with its usual category. Built from the
-- transactions upstream of fct_transactions, not from it (see dim_accounts).
with transactions as (
    select * from {{ ref('int_transactions__unioned') }}
),

category_counts as (
    select merchant_name, category_group, count(*) as transactions
    from transactions
    group by merchant_name, category_group
),

usual_category as (
    select merchant_name, category_group
    from (
        select
            merchant_name,
            category_group,
            row_number() over (
                partition by merchant_name order by transactions desc, category_group
            ) as rank_in_merchant
        from category_counts
    ) as ranked
    where rank_in_merchant = 1
)

select
    transactions.merchant_name,
    usual_category.category_group as primary_category_group,
    count(*) as transactions,
    count(distinct transactions.account_id) as accounts,
    min(transactions.transaction_date) as first_transaction_date,
    max(transactions.transaction_date) as last_transaction_date
from transactions
inner join usual_category on usual_category.merchant_name = transactions.merchant_name
group by transactions.merchant_name, usual_category.category_group
