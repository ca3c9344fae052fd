-- The batch manifest, and which version of each file the source holds now.
--
-- The source replaces a changed file's rows (delete + insert in one transaction) but the
-- loader copies rows, not deletes, so raw keeps earlier versions' rows too. Every row carries
-- its file's sha256, and in the source all rows of one path share one sha256: the version
-- last loaded successfully. That is the manifest's sha256 when the last attempt loaded; when
-- it failed, the earlier rows stayed, and their sha256 is the newest one written for the path.
with written as (
    select source_file as file_path, file_sha256, updated_at
    from {{ ref('stg_batch__transactions') }}
    union all
    select file_path, document_id as file_sha256, updated_at
    from {{ ref('stg_batch__documents') }}
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
    files.file_path,
    files.file_kind,
    files.last_status,
    files.last_sha256,
    case
        when files.last_status = 'loaded' then files.last_sha256
        else newest_written.file_sha256
    end as current_sha256,
    files.size_bytes,
    files.loaded_rows,
    files.rejected_rows,
    files.failure_reason,
    files.error,
    files.moved_to,
    files.ingested_at,
    files.updated_at
from {{ ref('stg_batch__files') }} as files
left join newest_written on newest_written.file_path = files.file_path
