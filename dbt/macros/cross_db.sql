{#- Where dbt's cross-database macros fall short, dispatched per adapter. -#}

{#- dbt.safe_cast is a plain CAST on DuckDB (a bad value fails the whole model): use
    DuckDB's TRY_CAST, like Snowflake's. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- Bytes (BLOB / BINARY) as UTF-8 text; NULL when they are not valid UTF-8. -#}
{% macro bytes_to_text(field) -%}
    {{ return(adapter.dispatch('bytes_to_text')(field)) }}
{%- endmacro %}

{% macro duckdb__bytes_to_text(field) -%}
    case when {{ field }} is null then null
         else try(decode({{ field }})) end
{%- endmacro %}

{% macro snowflake__bytes_to_text(field) -%}
    try_hex_decode_string(hex_encode({{ field }}))
{%- endmacro %}

{#- One top-level member of a JSON text as text; NULL when the text is not JSON. -#}
{% macro json_member(field, member) -%}
    {{ return(adapter.dispatch('json_member')(field, member)) }}
{%- endmacro %}

{% macro duckdb__json_member(field, member) -%}
    case when json_valid({{ field }}) then json_extract_string({{ field }}, '$.{{ member }}') end
{%- endmacro %}

{% macro snowflake__json_member(field, member) -%}
    try_parse_json({{ field }}):"{{ member }}"::varchar
{%- endmacro %}

{#- A timestamp with time zone (DuckDB TIMESTAMPTZ, Snowflake TIMESTAMP_TZ): dbt.type_timestamp
    is the zone-less one on both. -#}
{% macro type_timestamp_tz() -%}
    {{ return(adapter.dispatch('type_timestamp_tz')()) }}
{%- endmacro %}

{% macro duckdb__type_timestamp_tz() -%}timestamptz{%- endmacro %}

{% macro snowflake__type_timestamp_tz() -%}timestamp_tz{%- endmacro %}
