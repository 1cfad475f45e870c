{% macro redact_text(column) -%}
    {#- Replace e-mail addresses, CPF numbers and Brazilian phone numbers in free text.
        Patterns avoid backslashes so they mean the same on every engine. -#}
    {{ return(adapter.dispatch('redact_text')(column)) }}
{%- endmacro %}

{% macro redaction_patterns() -%}
    {{ return([
        ('[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+[.][A-Za-z]{2,}', '[email]'),
        ('[0-9]{3}[.]?[0-9]{3}[.]?[0-9]{3}-?[0-9]{2}', '[cpf]'),
        ('([+]?55 ?)?[(]?[0-9]{2}[)]? ?9?[0-9]{4}[- ]?[0-9]{4}', '[phone]'),
    ]) }}
{%- endmacro %}

{% macro default__redact_text(column) -%}
    {%- set ns = namespace(expr=column) -%}
    {%- for pattern, label in redaction_patterns() -%}
        {%- set ns.expr = "regexp_replace(" ~ ns.expr ~ ", '" ~ pattern ~ "', '"
            ~ label ~ "', 'g')" -%}
    {%- endfor -%}
    {{ ns.expr }}
{%- endmacro %}

{% macro spark__redact_text(column) -%}
    {%- set ns = namespace(expr=column) -%}
    {%- for pattern, label in redaction_patterns() -%}
        {%- set ns.expr = "regexp_replace(" ~ ns.expr ~ ", '" ~ pattern ~ "', '"
            ~ label ~ "')" -%}
    {%- endfor -%}
    {{ ns.expr }}
{%- endmacro %}
