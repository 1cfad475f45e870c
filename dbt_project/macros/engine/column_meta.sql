{% macro column_meta(column) -%}
    {#- A column's meta from the graph, whether set as meta or config.meta. -#}
    {%- set meta = {} -%}
    {%- do meta.update(column.get('meta') or {}) -%}
    {%- do meta.update((column.get('config') or {}).get('meta') or {}) -%}
    {{ return(meta) }}
{%- endmacro %}
