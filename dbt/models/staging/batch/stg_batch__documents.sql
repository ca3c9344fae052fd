-- Parsed PDF documents, typed and renamed: every version raw holds (document_id is the
-- file's sha256; int_batch__current_documents keeps each path's current one).
select
    document_id,
    path as file_path,
    kind as document_kind,
    title,
    account_id,
    vendor as vendor_name,
    reference,
    period_start,
    period_end,
    issued_on,
    due_on,
    upper(currency) as currency_code,
    cast(opening_balance as decimal(12, 2)) as opening_balance,
    cast(closing_balance as decimal(12, 2)) as closing_balance,
    cast(subtotal as decimal(12, 2)) as subtotal,
    cast(tax as decimal(12, 2)) as tax,
    cast(total as decimal(12, 2)) as stated_total,
    page_count,
    updated_at
from {{ source('batch', 'documents') }}
