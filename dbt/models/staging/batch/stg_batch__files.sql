-- The batch manifest, and which version of each file the source holds now.
--
-- The source replaces a changed file's rows (delete + insert in one transaction) but the
-- loader copies rows, not deletes, so raw keeps earlier versions' rows too. Every row carries
-- its file's sha256, and in the source all rows of one path share one sha256: the version
-- last loaded successfully. That is the manifest's sha256 when the last attempt loaded; when
-- it failed, the earlier rows stayed, and their sha256 is the newest one written for the path.
with manifest as (
    select * from {{ source('batch', 'ingest_files') }}
),

written as (
    select source_file as file_path, file_sha256, updated_at
    from {{ source('batch', 'batch_transactions') }}
    union all
    select path as file_path, document_id as file_sha256, updated_at
    from {{ source('batch', 'documents') }}
),

newest_written as (
    select file_path, file_sha256
    from (
        select
            file_path,
            file_sha256,
            row_number() over (partition by file_path order by updated_at desc) as recency
        from written
    ) as ranked
    where recency = 1
)

select
    manifest.path as file_path,
    manifest.kind as file_kind,
    manifest.status as last_status,
    manifest.sha256 as last_sha256,
    case
        when manifest.status = 'loaded' then manifest.sha256
        else newest_written.file_sha256
    end as current_sha256,
    manifest.size_bytes,
    manifest.rows as loaded_rows,
    manifest.rejected_rows,
    manifest.reason as failure_reason,
    manifest.error,
    manifest.moved_to,
    manifest.ingested_at,
    manifest.updated_at
from manifest
left join newest_written on newest_written.file_path = manifest.path
