-- Events the realtime pipeline could not accept. The payload is kept as text where it is
-- UTF-8, and what it claimed (transaction id, amount) where that can still be read:
-- safe_cast turns junk into NULL instead of failing the model.
with source as (
    select * from {{ source('realtime', 'transactions_dlq') }}
),

decoded as (
    select
        dlq_id as dead_letter_id,
        topic,
        kafka_partition,
        kafka_offset,
        {{ bytes_to_text('kafka_key') }} as kafka_key_text,
        {{ bytes_to_text('raw_payload') }} as payload_text,
        reason,
        detail,
        failed_at,
        updated_at
    from source
)

select
    dead_letter_id,
    topic,
    kafka_partition,
    kafka_offset,
    kafka_key_text,
    payload_text,
    {{ json_member('payload_text', 'transaction_id') }} as claimed_transaction_id,
    {{ dbt.safe_cast(json_member('payload_text', 'amount'), 'decimal(12, 2)') }} as claimed_amount,
    reason,
    detail,
    failed_at,
    updated_at
from decoded
