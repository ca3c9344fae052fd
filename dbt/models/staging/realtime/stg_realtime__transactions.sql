-- One row per card transaction: its newest version, typed and renamed.
with source as (
    select * from {{ source('realtime', 'transactions_sink') }}
),

renamed as (
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
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by transaction_id order by version desc, updated_at desc
        ) as version_rank
    from renamed
)

select
    transaction_id,
    account_id,
    customer_name,
    merchant_name,
    category,
    amount,
    currency_code,
    country_code,
    status,
    created_at,
    event_time,
    version,
    schema_version,
    kafka_partition,
    kafka_offset,
    updated_at
from ranked
where version_rank = 1
