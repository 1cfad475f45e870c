{% macro surrogate_key(columns) -%}
    {#- md5 of the columns cast to text and joined with '-' (portable). -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as "
            ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    {{ dbt.hash(parts | join(" || '-' || ")) }}
{%- endmacro %}
