{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Layers get their own schema by name (bronze, silver, gold), not
        target_bronze. The pipeline builds gold into <schema>_staging (var
        stage_gold) and swaps it in after the gold gate passes; readers only
        ever see the swapped-in schema. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'gold' and var('stage_gold', false) -%}
        gold_staging
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
