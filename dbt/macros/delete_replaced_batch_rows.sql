{#- fct_transactions' post-hook: batch rows whose file version was replaced (no longer in
    stg_batch__transactions) go; a merge only inserts and updates. A no-op after a full build. -#}
{% macro delete_replaced_batch_rows() %}
    delete from {{ this }}
    where source = 'batch'
      and transaction_id not in (select transaction_id from {{ ref('stg_batch__transactions') }})
{% endmacro %}
