{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Layers get their own schema by name (bronze, silver, gold), not
        target_bronze. The pipeline builds gold into var('gold_schema')
        (gold_staging) and swaps it in after the gold gate passes. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'gold' -%}
        {{ var('gold_schema', 'gold') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
