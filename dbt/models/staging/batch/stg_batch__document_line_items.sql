-- Line items of the current documents only (a replaced PDF's old lines stay in raw).
select
    items.document_id,
    items.line_no,
    items.item_date,
    items.description,
    cast(items.quantity as decimal(12, 3)) as quantity,
    cast(items.unit_price as decimal(12, 2)) as unit_price,
    cast(items.amount as decimal(12, 2)) as amount,
    items.updated_at
from {{ source('batch', 'document_line_items') }} as items
inner join {{ ref('stg_batch__documents') }} as documents
    on documents.document_id = items.document_id
