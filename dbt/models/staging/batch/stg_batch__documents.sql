-- Parsed PDF documents of the current version of each file.
with source as (
    select * from {{ source('batch', 'documents') }}
),

current_files as (
    select file_path, current_sha256 from {{ ref('stg_batch__files') }}
)

select
    source.document_id,
    source.path as file_path,
    source.kind as document_kind,
    source.title,
    source.account_id,
    source.vendor as vendor_name,
    source.reference,
    source.period_start,
    source.period_end,
    source.issued_on,
    source.due_on,
    upper(source.currency) as currency_code,
    cast(source.opening_balance as decimal(12, 2)) as opening_balance,
    cast(source.closing_balance as decimal(12, 2)) as closing_balance,
    cast(source.subtotal as decimal(12, 2)) as subtotal,
    cast(source.tax as decimal(12, 2)) as tax,
    cast(source.total as decimal(12, 2)) as stated_total,
    source.page_count,
    source.updated_at
from source
inner join current_files
    on current_files.file_path = source.path
    and current_files.current_sha256 = source.document_id
