{% macro register_lake_sources() -%}
    {#- On Spark, the lake's manifests and the erasure register become external
        tables (schema = source name) before any model runs; DuckDB reads them
        through each source's external_location instead. -#}
    {%- if target.type == 'spark' and execute -%}
        {%- set manifest_columns -%}
            object_key string, sha256 string, `rows` bigint, ingested_at string,
            status string
        {%- endset -%}
        {%- for source in graph.sources.values() -%}
            {%- set relation = source.schema ~ '.' ~ source.identifier -%}
            {%- do run_query('create database if not exists ' ~ source.schema) -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- if source.source_name == 'erasure' -%}
                {%- do run_query(
                    'create table ' ~ relation
                    ~ ' (customer_unique_pseudonym string, requested_at string)'
                    ~ " using csv options (path '" ~ lake_root() ~ "/_erasure/"
                    ~ source.identifier ~ ".csv', header 'true', mode 'FAILFAST')") -%}
            {%- else -%}
                {%- do run_query(
                    'create table ' ~ relation ~ ' (' ~ manifest_columns ~ ')'
                    ~ " using json options (path '" ~ raw_root() ~ '/raw/_manifest/'
                    ~ source.source_name ~ '/' ~ source.identifier
                    ~ "', multiLine 'true', mode 'FAILFAST')") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
