{#- Snowflake's incremental MERGE, written so that Snowflake and fakesnow (the test double)
    both run it: INSERT values qualified with the source alias, and no explicit
    BEGIN/COMMIT around the statement (a MERGE commits atomically on its own; fakesnow's
    server fails on MERGE inside an explicit transaction). -#}
{% macro snowflake__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
    {%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    {%- set update_columns = get_merge_update_columns(config.get('merge_update_columns'),
                                                      config.get('merge_exclude_columns'),
                                                      dest_columns) -%}
    {%- if unique_key is none -%}
        insert into {{ target }} ({{ dest_cols_csv }}) (select {{ dest_cols_csv }} from {{ source }})
    {%- else -%}
        {%- set keys = [unique_key] if unique_key is string else unique_key -%}
        {%- for key in keys -%}
            {%- do predicates.append("DBT_INTERNAL_SOURCE." ~ key ~ " = DBT_INTERNAL_DEST." ~ key) -%}
        {%- endfor %}
    merge into {{ target }} as DBT_INTERNAL_DEST
        using {{ source }} as DBT_INTERNAL_SOURCE
        on {{ "(" ~ predicates | join(") and (") ~ ")" }}
    when matched then update set
        {% for column_name in update_columns -%}
            {{ column_name }} = DBT_INTERNAL_SOURCE.{{ column_name }}{{ "," if not loop.last }}
        {% endfor %}
    when not matched then insert ({{ dest_cols_csv }})
    values (
        {%- for column in dest_columns -%}
            DBT_INTERNAL_SOURCE.{{ adapter.quote(column.name) }}{{ ", " if not loop.last }}
        {%- endfor -%}
    )
    {%- endif -%}
{%- endmacro %}
