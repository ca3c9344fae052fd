-- CSV rows that could not load, renamed: every version's (int_batch__current_rejects keeps
-- the current version's).
select
    reject_id,
    file as file_path,
    file_sha256,
    line as line_number,
    field as field_name,
    reason,
    detail,
    raw as raw_line,
    rejected_at,
    updated_at
from {{ source('batch', 'ingest_rejects') }}
