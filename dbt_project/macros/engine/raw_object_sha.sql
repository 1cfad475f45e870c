{% macro raw_object_sha(path_column) -%}
    {#- The sha256 in a raw object's file name (raw/.../<sha256>.<ext>). -#}
    regexp_extract({{ path_column }}, '([0-9a-f]{64})[.][a-z]+$', 1)
{%- endmacro %}
