{% macro raw_object_paths(manifest_relation) -%}
    {#- Lake paths of the accepted raw objects a manifest relation lists. -#}
    {%- set paths = [] -%}
    {%- if var('sqlfluff_lint', false) -%}
        {%- do paths.append(raw_root() ~ '/raw/lint.json') -%}
    {%- elif execute -%}
        {%- set listing -%}
            select object_key
            from {{ manifest_relation }}
            where status = 'accepted'
            order by ingested_at, object_key
        {%- endset -%}
        {%- for row in run_query(listing) -%}
            {%- do paths.append(raw_root() ~ '/' ~ row[0]) -%}
        {%- endfor -%}
        {%- if paths | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                "no accepted raw objects in " ~ manifest_relation
                ~ "; run the connector first") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(paths) }}
{%- endmacro %}

{% macro read_raw_json(manifest_relation, columns, json_format='array') -%}
    {{ return(adapter.dispatch('read_raw_json')(manifest_relation, columns, json_format)) }}
{%- endmacro %}

{% macro default__read_raw_json(manifest_relation, columns, json_format) -%}
    {{ return(default__read_raw_csv(manifest_relation, columns)) }}
{%- endmacro %}

{% macro duckdb__read_raw_json(manifest_relation, columns, json_format) -%}
    {#- One read_json per raw object, with the object's path as `filename`. -#}
    (
        {%- for path in raw_object_paths(manifest_relation) %}
        select
            *,
            '{{ path }}' as filename
        from read_json(
            '{{ path }}',
            format = '{{ json_format }}',
            columns = {
                {%- for name, type in columns.items() %}
                '{{ name }}': '{{ type }}'{{ "," if not loop.last }}
                {%- endfor %}
            }
        )
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__read_raw_json(manifest_relation, columns, json_format) -%}
    {#- Nested JSON read as text for a 'json' column (Spark keeps the raw text). -#}
    {%- set typed = {} -%}
    {%- for name, type in columns.items() -%}
        {%- do typed.update({name: 'string' if type in ('varchar', 'json') else type}) -%}
    {%- endfor -%}
    (
        {%- for path in raw_object_paths(manifest_relation) %}
        select
            *,
            '{{ path }}' as filename
        from {{ spark_raw_view(path, typed, 'json', {
            'multiLine': 'true' if json_format == 'array' else 'false'}) }}
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    )
{%- endmacro %}
