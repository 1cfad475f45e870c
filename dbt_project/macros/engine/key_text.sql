{% macro key_text(columns) -%}
    {#- One text value per key (columns joined with '|'), for a portable
        count(distinct ...) over a composite key. -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(column) -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}
