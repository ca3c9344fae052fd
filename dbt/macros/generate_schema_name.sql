{#- Models land in the schema their folder names (staging, marts, seeds), not in
    <target schema>_<name>: one warehouse per environment, so no prefix is needed. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
