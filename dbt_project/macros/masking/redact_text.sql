{% macro redact_text(column) -%}
    {#- Replace e-mail addresses, CNPJ and CPF numbers and Brazilian phone numbers
        in free text, in every common writing. Patterns avoid backslashes so they
        mean the same to RE2 (DuckDB), PostgreSQL and Java (Spark). -#}
    {{ return(adapter.dispatch('redact_text')(column)) }}
{%- endmacro %}

{% macro redaction_patterns() -%}
    {#- (pattern, label) in the order they apply: longer digit runs first, so a
        CNPJ or a phone with its country code is not cut into a CPF and a rest.
        Letters include Latin-1 accented ones and combining accents (decomposed
        text); digit groups take an optional space, dot, dash or slash between
        them. -#}
    {%- set letter = 'A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0300-\u036f' -%}
    {%- set sep = '[ ./-]?' -%}
    {%- set phone_sep = '[ .-]?' -%}
    {%- set number = '[0-9]{4}' ~ phone_sep ~ '[0-9]{4}' -%}
    {%- set mobile_digit = '(9' ~ phone_sep ~ ')?' -%}
    {%- set area = '([(]0?[0-9]{2}[)]|0?[0-9]{2})' -%}
    {{ return([
        ('[' ~ letter ~ '0-9._%+-]+@[' ~ letter ~ '0-9.-]+[.][A-Za-z]{2,}',
            '[email]'),
        ('[0-9]{2}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{4}'
            ~ sep ~ '[0-9]{2}', '[cnpj]'),
        ('[+]?(00)?55' ~ phone_sep ~ area ~ phone_sep ~ mobile_digit ~ number,
            '[phone]'),
        ('[0-9]{3}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{2}',
            '[cpf]'),
        ('(' ~ area ~ phone_sep ~ ')?' ~ mobile_digit ~ number, '[phone]'),
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
