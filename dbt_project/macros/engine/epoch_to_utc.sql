{% macro epoch_to_utc(column) -%}
    {#- Seconds since the epoch as a UTC timestamp without time zone. -#}
    {{ return(adapter.dispatch('epoch_to_utc')(column)) }}
{%- endmacro %}

{% macro default__epoch_to_utc(column) -%}
    (to_timestamp({{ column }}) at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__epoch_to_utc(column) -%}
    cast(timezone('UTC', to_timestamp({{ column }})) as timestamp)
{%- endmacro %}

{% macro spark__epoch_to_utc(column) -%}
    cast(from_unixtime({{ column }}) as timestamp)
{%- endmacro %}
