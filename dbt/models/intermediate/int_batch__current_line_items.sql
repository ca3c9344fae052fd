-- Line items of the current documents only (a replaced PDF's old lines stay in raw).
select items.*
from {{ ref('stg_batch__document_line_items') }} as items
inner join {{ ref('int_batch__current_documents') }} as documents
    on documents.document_id = items.document_id
