{% macro read_raw_csv(manifest_relation, columns) -%}
    {{ return(adapter.dispatch('read_raw_csv')(manifest_relation, columns)) }}
{%- endmacro %}

{% macro default__read_raw_csv(manifest_relation, columns) -%}
    {#- Bronze runs where the lake is readable (duckdb, spark); a warehouse
        target builds gold only, from published silver. -#}
    {%- if execute -%}
        {{ exceptions.raise_compiler_error(
            "bronze reads the lake on duckdb (and spark); target " ~ target.type
            ~ " builds gold only, from published silver: --select gold") }}
    {%- endif -%}
    (select 1 as unavailable_on_{{ target.type }})
{%- endmacro %}

{% macro duckdb__read_raw_csv(manifest_relation, columns) -%}
    {%- set paths = raw_object_paths(manifest_relation) -%}
    {%- if not paths -%}{{ return(no_raw_rows(columns)) }}{%- endif -%}
    {#- One read_csv per object, then union all: each file is parsed with its own
        dialect (a multi-file read_csv silently kept only the first of two files
        whose line endings differed). -#}
    (
        {%- for path in paths %}
        select *
        from read_csv(
            '{{ path }}',
            header = true,
            delim = ',',
            quote = '"',
            escape = '"',
            strict_mode = true,
            filename = true,
            columns = {
                {%- for column in columns %}
                '{{ column }}': 'varchar'{{ "," if not loop.last }}
                {%- endfor %}
            }
        )
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark_raw_view(path, columns, reader, options) -%}
    {#- A temporary view over one raw object, read with an explicit schema (all
        text) and FAILFAST, named after the object's sha256; returns its name. -#}
    {%- set name = 'raw_' ~ path.split('/')[-1].split('.')[0] -%}
    {%- if execute and not var('sqlfluff_lint', false) -%}
        {%- set ddl -%}
            create or replace temporary view {{ name }} (
                {%- for column, type in columns.items() %}
                `{{ column }}` {{ type }}{{ "," if not loop.last }}
                {%- endfor %}
            )
            using {{ reader }}
            options (
                path '{{ path }}',
                mode 'FAILFAST'
                {%- for key, value in options.items() %},
                {{ key }} '{{ value }}'
                {%- endfor %}
            )
        {%- endset -%}
        {%- do run_query(ddl) -%}
    {%- endif -%}
    {{ return(name) }}
{%- endmacro %}

{% macro spark__read_raw_csv(manifest_relation, columns) -%}
    {#- One view per object (header checked against the columns: enforceSchema
        off), then union all, each row tagged with its object's path. -#}
    {%- set typed = {} -%}
    {%- for column in columns -%}{%- do typed.update({column: 'string'}) -%}{%- endfor -%}
    {%- set paths = raw_object_paths(manifest_relation) -%}
    {%- if not paths -%}{{ return(no_raw_rows(columns)) }}{%- endif -%}
    (
        {%- for path in paths %}
        select
            {%- for column in columns %}
            `{{ column }}`,
            {%- endfor %}
            '{{ path }}' as filename
        from {{ spark_raw_view(path, typed, 'csv', {
            'header': 'true', 'enforceSchema': 'false', 'multiLine': 'true',
            'quote': '"', 'escape': '"', 'encoding': 'UTF-8'}) }}
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    )
{%- endmacro %}
