{% macro generalize_zip(column, digits=3) -%}
    {#- Keep the first `digits` digits of a 5-digit zip prefix. -#}
    {{ return(adapter.dispatch('generalize_zip')(column, digits)) }}
{%- endmacro %}

{% macro default__generalize_zip(column, digits) -%}
    substring({{ column }}, 1, {{ digits }})
{%- endmacro %}
