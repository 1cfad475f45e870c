{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Layers get their own schema by name (bronze, silver, gold), not target_bronze. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
