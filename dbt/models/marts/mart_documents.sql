-- Each current statement or invoice with the totals of its line items, and whether they
-- add up to the total the document states.
with line_totals as (
    select
        document_id,
        count(*) as line_items,
        sum(amount) as line_items_amount
    from {{ ref('int_batch__current_line_items') }}
    group by document_id
)

select
    documents.document_id,
    documents.file_path,
    documents.document_kind,
    documents.title,
    documents.account_id,
    documents.vendor_name,
    documents.reference,
    documents.period_start,
    documents.period_end,
    documents.issued_on,
    documents.due_on,
    documents.currency_code,
    documents.opening_balance,
    documents.closing_balance,
    documents.subtotal,
    documents.tax,
    documents.stated_total,
    coalesce(line_totals.line_items, 0) as line_items,
    coalesce(line_totals.line_items_amount, 0) as line_items_amount,
    documents.stated_total - coalesce(line_totals.line_items_amount, 0) as total_difference,
    coalesce(documents.stated_total = coalesce(line_totals.line_items_amount, 0), false)
        as lines_match_total,
    documents.page_count
from {{ ref('int_batch__current_documents') }} as documents
left join line_totals on line_totals.document_id = documents.document_id
