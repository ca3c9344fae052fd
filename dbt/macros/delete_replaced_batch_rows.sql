{#- fct_transactions' post-hook: batch rows whose file version was replaced (no longer in
    int_transactions__unioned) go; a merge only inserts and updates. A no-op after a full
    build. -#}
{% macro delete_replaced_batch_rows() %}
    delete from {{ this }}
    where source = 'batch'
      and transaction_key not in (
          select transaction_key from {{ ref('int_transactions__unioned') }} where source = 'batch'
      )
{% endmacro %}
