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
