-- Statement lines of the current version of each CSV file (see int_batch__current_files).
select lines.*
from {{ ref('stg_batch__transactions') }} as lines
inner join {{ ref('int_batch__current_files') }} as files
    on files.file_path = lines.source_file
    and files.current_sha256 = lines.file_sha256
