-- The line items of every document version raw holds, typed.
select
    document_id,
    line_no,
    item_date,
    description,
    cast(quantity as decimal(12, 3)) as quantity,
    cast(unit_price as decimal(12, 2)) as unit_price,
    cast(amount as decimal(12, 2)) as amount,
    updated_at
from {{ source('batch', 'document_line_items') }}
