{% macro normalize_city(column) -%}
    {{ return(adapter.dispatch('normalize_city')(column)) }}
{%- endmacro %}

{% macro default__normalize_city(column) -%}
    lower(trim(translate(
        {{ column }},
        'áàâãäéèêëíìîïóòôõöúùûüçÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇ',
        'aaaaaeeeeiiiiooooouuuucAAAAAEEEEIIIIOOOOOUUUUC'
    )))
{%- endmacro %}

{% macro duckdb__normalize_city(column) -%}
    lower(trim(strip_accents({{ column }})))
{%- endmacro %}
