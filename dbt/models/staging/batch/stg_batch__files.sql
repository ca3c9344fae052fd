-- The batch manifest: one row per file path and its last ingest attempt. Which version's
-- rows are current is int_batch__current_files' work (it needs the rows' tables too).
select
    path as file_path,
    kind as file_kind,
    status as last_status,
    sha256 as last_sha256,
    size_bytes,
    rows as loaded_rows,
    rejected_rows,
    reason as failure_reason,
    error,
    moved_to,
    ingested_at,
    updated_at
from {{ source('batch', 'ingest_files') }}
