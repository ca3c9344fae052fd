-- CSV rows that could not load, for the current version of each file.
select
    rejects.reject_id,
    rejects.file as file_path,
    rejects.file_sha256,
    rejects.line as line_number,
    rejects.field as field_name,
    rejects.reason,
    rejects.detail,
    rejects.raw as raw_line,
    rejects.rejected_at,
    rejects.updated_at
from {{ source('batch', 'ingest_rejects') }} as rejects
inner join {{ ref('stg_batch__files') }} as files
    on files.file_path = rejects.file
    and files.current_sha256 = rejects.file_sha256
