{% macro is_lost_order(status) -%}
    {#- An order that will not be fulfilled (canceled or unavailable): left out
        of GMV and revenue, apart from open orders. One definition for every
        fact that carries the status. -#}
    ({{ status }} in ('canceled', 'unavailable'))
{%- endmacro %}
