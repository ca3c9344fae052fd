-- CSV statement lines of the current version of each file, typed and renamed.
with source as (
    select * from {{ source('batch', 'batch_transactions') }}
),

current_files as (
    select file_path, current_sha256 from {{ ref('stg_batch__files') }}
),

current_rows as (
    select source.*
    from source
    inner join current_files
        on current_files.file_path = source.source_file
        and current_files.current_sha256 = source.file_sha256
),

ranked as (
    select
        *,
        row_number() over (partition by transaction_id order by updated_at desc) as recency
    from current_rows
)

select
    transaction_id,
    account_id,
    posted_date,
    description,
    merchant as merchant_name,
    category,
    cast(amount as decimal(12, 2)) as amount,
    upper(currency) as currency_code,
    source_file,
    source_line,
    file_sha256,
    updated_at
from ranked
where recency = 1
