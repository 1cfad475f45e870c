{% macro natural_key(dataset) -%}
    {#- The columns that identify one record of an Olist data set (its grain in
        silver): var('natural_keys'), the one place silver's deduplication and
        the reconciliation's duplicate count read them from. -#}
    {%- set keys = var('natural_keys')[dataset] -%}
    {{ return(keys) }}
{%- endmacro %}
