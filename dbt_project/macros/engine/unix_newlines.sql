{% macro unix_newlines(column) -%}
    {#- Free text with CRLF line breaks as LF: Spark's CSV reader turns CRLF inside a
        quoted field into LF, so every engine keeps LF. -#}
    replace({{ column }}, chr(13) || chr(10), chr(10))
{%- endmacro %}
