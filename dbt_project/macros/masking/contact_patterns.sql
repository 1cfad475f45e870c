{% macro contact_patterns(free_text) -%}
    {#- What a gate looks for, written apart from redaction_patterns so that a
        weaker redaction is caught, not copied. In any text column: an e-mail
        address, or a CPF, CNPJ or phone written with its separators. In free
        text (`redact_text` policy) also bare runs: 10 or more digits, or two
        groups of four (identifiers and pseudonyms are long runs of hex digits,
        so bare runs are looked for in free text only). -#}
    {%- set letter = 'A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0300-\u036f' -%}
    {%- set sep = '[ ./-]' -%}
    {%- set patterns = [
        '[' ~ letter ~ '0-9._%+-]+@[' ~ letter ~ '0-9.-]+[.][A-Za-z]{2,}',
        '[0-9]{2}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{4}'
            ~ sep ~ '[0-9]{2}',
        '[0-9]{3}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{3}' ~ sep ~ '[0-9]{2}',
        '[(]0?[0-9]{2}[)][ .-]?(9[ .-]?)?[0-9]{4}[ .-]?[0-9]{4}',
        '[+](00)?55[ .-]?[(]?[0-9]{2}',
        '[0-9]{2}[ .-](9[ .-]?)?[0-9]{4}[ .-][0-9]{4}',
    ] -%}
    {%- if free_text -%}
        {%- do patterns.extend(['[0-9]{10,}', '[0-9]{4}[ .-]?[0-9]{4}']) -%}
    {%- endif -%}
    {{ return(patterns) }}
{%- endmacro %}

{% macro contact_marks() -%}
    {#- Characters every match of contact_patterns(false) holds one of: an
        e-mail's @ (and its domain's dot), a separator of a CPF, CNPJ or phone,
        a phone's ( or +. contact_leaks reads only the values holding one
        outside free text, so a pattern added above must keep this true (a
        test walks each pattern and fails when one can match without). -#}
    {{ return(['@', ' ', '.', '/', '-', '(', '+']) }}
{%- endmacro %}
