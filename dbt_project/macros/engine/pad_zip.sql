{% macro pad_zip(column) -%}
    {#- Zip prefixes as 5-digit text, whether or not a spreadsheet dropped the zeros. -#}
    lpad(trim({{ column }}), 5, '0')
{%- endmacro %}
