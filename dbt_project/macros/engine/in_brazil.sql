{% macro in_brazil(latitude, longitude) -%}
    {#- True when a point lies inside var('brazil_bounds'), Brazil's bounding
        box: the rule silver_geolocation applies and the reconciliation counts. -#}
    {%- set b = var('brazil_bounds') -%}
    ({{ latitude }} between {{ b.min_lat }} and {{ b.max_lat }}
    and {{ longitude }} between {{ b.min_lng }} and {{ b.max_lng }})
{%- endmacro %}
