-- Rejected CSV rows of the current version of each file (see int_batch__current_files).
select rejects.*
from {{ ref('stg_batch__rejects') }} as rejects
inner join {{ ref('int_batch__current_files') }} as files
    on files.file_path = rejects.file_path
    and files.current_sha256 = rejects.file_sha256
