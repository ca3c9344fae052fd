-- Spend per account, category group and month (and currency: amounts in different
-- currencies are never added up).
select
    {{ dbt.concat(["account_id", "'|'", "category_group", "'|'",
                   dbt.cast("transaction_month", dbt.type_string()), "'|'", "currency_code"]) }}
        as monthly_spend_key,
    account_id,
    category_group,
    transaction_month,
    currency_code,
    count(*) as transactions,
    sum(spend_amount) as spend_amount
from {{ ref('fct_transactions') }}
where is_spend
group by account_id, category_group, transaction_month, currency_code
