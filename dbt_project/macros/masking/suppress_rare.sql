{% macro suppress_rare(column, k) -%}
    {#- Values held by fewer than k rows (one row per customer) become OTHER. -#}
    {{ return(adapter.dispatch('suppress_rare')(column, k)) }}
{%- endmacro %}

{% macro default__suppress_rare(column, k) -%}
    case
        when count(*) over (partition by {{ column }}) < {{ k }} then 'OTHER'
        else {{ column }}
    end
{%- endmacro %}
