{% macro register_lake_sources() -%}
    {#- On Spark, the lake's manifests and the erasure register become external
        tables (schema = source name) before any model runs; DuckDB reads them
        through each source's external_location instead. -#}
    {#- Only the sources the selected nodes read are registered (a silver or gold
        build reads none: each statement is a Thrift round trip and a catalog write),
        each database once. -#}
    {%- if target.type == 'spark' and execute -%}
        {%- set manifest_columns -%}
            object_key string, sha256 string, `rows` bigint, ingested_at string,
            status string
        {%- endset -%}
        {%- set wanted = [] -%}
        {%- for unique_id in selected_resources -%}
            {%- if unique_id.startswith('source.') -%}
                {%- do wanted.append(unique_id) -%}
            {%- elif unique_id in graph.nodes -%}
                {%- do wanted.extend(graph.nodes[unique_id].depends_on.nodes) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set sources = [] -%}
        {%- for unique_id, source in graph.sources.items() if unique_id in wanted -%}
            {%- do sources.append(source) -%}
        {%- endfor -%}
        {%- for schema in sources | map(attribute='schema') | unique -%}
            {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- endfor -%}
        {%- for source in sources -%}
            {%- set relation = source.schema ~ '.' ~ source.identifier -%}
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
