{% macro contact_leaks(model_names) -%}
    {#- One row (location, failing_values) per text column of these models that
        still holds a contact (see contact_patterns). Counts only, never a
        value. -#}
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
            {%- do checks.append((
                name, column,
                contact_patterns(location in free_text)
            )) -%}
        {%- endfor -%}
    {%- endif %}
    {%- for name, column, patterns in checks %}
        select
            '{{ name }}.{{ column }}' as location,
            count(*) as failing_values
        from {{ ref(name) }}
        {#- one alternation, one pass over the column (a regex per pattern read
            it once per pattern) -#}
        where {{ regex_matches(column, '(' ~ patterns | join(')|(') ~ ')') }}
        having count(*) > 0
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as location,
            0 as failing_values
        where 1 = 0
    {%- endfor %}
{%- endmacro %}
