{% macro utc_to_local(column, tz) -%}
    {#- A UTC timestamp (without time zone) as the wall-clock time of tz, an
        IANA zone name given as SQL (a quoted literal or a column). -#}
    {{ return(adapter.dispatch('utc_to_local')(column, tz)) }}
{%- endmacro %}

{% macro default__utc_to_local(column, tz) -%}
    ((({{ column }}) at time zone 'UTC') at time zone {{ tz }})
{%- endmacro %}

{% macro duckdb__utc_to_local(column, tz) -%}
    timezone({{ tz }}, timezone('UTC', {{ column }}))
{%- endmacro %}

{% macro spark__utc_to_local(column, tz) -%}
    from_utc_timestamp({{ column }}, {{ tz }})
{%- endmacro %}
