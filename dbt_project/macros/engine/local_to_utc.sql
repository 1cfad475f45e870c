{% macro local_to_utc(column, tz='America/Sao_Paulo') -%}
    {{ return(adapter.dispatch('local_to_utc')(column, tz)) }}
{%- endmacro %}

{% macro default__local_to_utc(column, tz) -%}
    (({{ column }}) at time zone '{{ tz }}') at time zone 'UTC'
{%- endmacro %}

{% macro duckdb__local_to_utc(column, tz) -%}
    timezone('UTC', ({{ column }}) at time zone '{{ tz }}')
{%- endmacro %}

{% macro spark__local_to_utc(column, tz) -%}
    to_utc_timestamp({{ column }}, '{{ tz }}')
{%- endmacro %}
