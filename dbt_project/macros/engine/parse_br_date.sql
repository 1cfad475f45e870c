{% macro parse_br_date(column) -%}
    {#- A dd/MM/yyyy text date. -#}
    {{ return(adapter.dispatch('parse_br_date')(column)) }}
{%- endmacro %}

{% macro default__parse_br_date(column) -%}
    to_date({{ column }}, 'DD/MM/YYYY')
{%- endmacro %}

{% macro duckdb__parse_br_date(column) -%}
    cast(strptime({{ column }}, '%d/%m/%Y') as date)
{%- endmacro %}

{% macro spark__parse_br_date(column) -%}
    to_date({{ column }}, 'dd/MM/yyyy')
{%- endmacro %}
