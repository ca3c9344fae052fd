-- One row per card transaction (raw holds its newest version: the loader merges on the
-- primary key), typed and renamed.
select
    cast(transaction_id as {{ dbt.type_string() }}) as transaction_id,
    account_id,
    customer_name,
    merchant as merchant_name,
    category,
    cast(amount as decimal(12, 2)) as amount,
    upper(currency) as currency_code,
    upper(country) as country_code,
    status,
    created_at,
    event_time,
    version,
    schema_version,
    kafka_partition,
    kafka_offset,
    updated_at
from {{ source('realtime', 'transactions_sink') }}
