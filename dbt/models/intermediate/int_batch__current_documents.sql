-- The current version of each PDF file (see int_batch__current_files).
select documents.*
from {{ ref('stg_batch__documents') }} as documents
inner join {{ ref('int_batch__current_files') }} as files
    on files.file_path = documents.file_path
    and files.current_sha256 = documents.document_id
