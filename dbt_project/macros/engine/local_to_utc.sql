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
    {#- to_utc_timestamp reads the hour repeated when DST ends as summer time;
        DuckDB and PostgreSQL read it as standard time (the later instant): take
        the later one here too, so every engine gives the same instant. -#}
    case
        when from_utc_timestamp(
            to_utc_timestamp({{ column }}, '{{ tz }}') + interval 1 hour, '{{ tz }}'
        ) = {{ column }}
            then to_utc_timestamp({{ column }}, '{{ tz }}') + interval 1 hour
        else to_utc_timestamp({{ column }}, '{{ tz }}')
    end
{%- endmacro %}
