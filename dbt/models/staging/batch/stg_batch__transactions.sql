-- CSV statement lines, typed and renamed: every line raw holds, including the lines of a
-- replaced file version (int_batch__current_transactions keeps the current ones).
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
from {{ source('batch', 'batch_transactions') }}
