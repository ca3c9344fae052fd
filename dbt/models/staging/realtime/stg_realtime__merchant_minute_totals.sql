-- Per-merchant one-minute windows computed by the stream processor.
select
    merchant as merchant_name,
    window_start,
    window_end,
    transactions,
    cast(amount_sum as decimal(14, 2)) as amount_sum,
    updated_at
from {{ source('realtime', 'merchant_minute_totals') }}
