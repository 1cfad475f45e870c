{% macro not_held_back(column) -%}
    {#- `and <not held back>` while the pipeline looks for the raw objects a
        failed build is due to: the objects listed in var('held_back_objects')
        are left out of that trial build (none otherwise). -#}
    {%- set held = var('held_back_objects', []) -%}
    {%- if held -%}
        and {{ column }} not in ('{{ held | join("', '") }}')
    {%- endif -%}
{%- endmacro %}
