{% macro contact_leaks(model_names) -%}
    {#- One row (location, failing_values) per text column of these models that
        still holds a contact (see contact_patterns). Counts only, never a
        value. The regex reads each distinct value once, and only the values
        that may hold a contact (may_hold_contact, a cheap test of each row):
        the lineage columns repeat a few values over every row, and most
        values of the others hold none of contact_marks(). The patterns are
        joined into one alternation, read in one pass. Equal values are
        grouped as the engine compares them: a binary collation, the
        default of each engine olist-elt runs. -#}
    {%- set checks = [] -%}
    {%- if execute -%}
        {%- set free_text = [] -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.name in model_names -%}
            {%- for column in node.columns.values()
                if column_meta(column).get('masking') == 'redact_text' -%}
                {%- do free_text.append(node.name ~ '.' ~ column.name) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- for name, column in string_columns(model_names) -%}
            {%- set location = name ~ '.' ~ column -%}
            {%- do checks.append((name, column, location in free_text)) -%}
        {%- endfor -%}
    {%- endif %}
    {%- for name, column, is_free_text in checks %}
        select
            '{{ name }}.{{ column }}' as location,
            cast(sum(candidate_rows) as {{ dbt.type_bigint() }}) as failing_values
        from (
            select
                {{ column }} as candidate,
                count(*) as candidate_rows
            from {{ ref(name) }}
            where {{ may_hold_contact(column, is_free_text) }}
            group by {{ column }}
        ) as candidates
        where {{ regex_matches(
            'candidate', '(' ~ contact_patterns(is_free_text) | join(')|(') ~ ')'
        ) }}
        having count(*) > 0
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as location,
            0 as failing_values
        where 1 = 0
    {%- endfor %}
{%- endmacro %}

{% macro may_hold_contact(column, free_text) -%}
    {#- A cheap test a value must pass to hold a contact: in free text any
        value (bare runs of digits count there), elsewhere a value holding one
        of contact_marks(). -#}
    {%- if free_text -%}
        {{ column }} is not null
    {%- else -%}
        (
        {%- for mark in contact_marks() %}
            {{ column }} like '%{{ mark }}%'{{ " or" if not loop.last }}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
