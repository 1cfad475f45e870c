{% macro regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_matches')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    ({{ expression }} ~ '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_matches(expression, pattern) -%}
    ({{ expression }} rlike '{{ pattern }}')
{%- endmacro %}
