{% macro register_lake_sources() -%}
    {#- On Spark, the lake's manifests and the erasure register become external
        tables (schema = source name) before any model runs; DuckDB reads them
        through each source's external_location instead. -#}
    {#- Only the sources the selected nodes read are registered (each statement is a
        Thrift round trip and a catalog write; a gold build reads none), each
        database once. -#}
    {%- if target.type == 'spark' and execute -%}
        {%- set manifest_columns -%}
            object_key string, sha256 string, `rows` bigint, ingested_at string,
            status string
        {%- endset -%}
        {%- set sources = [] -%}
        {%- for unique_id in lake_sources_read_by(selected_resources) -%}
            {%- do sources.append(graph.sources[unique_id]) -%}
        {%- endfor -%}
        {%- do log('registering lake sources: ' ~ (sources | map(attribute='unique_id')
            | join(', ') or 'none'), info=false) -%}
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

{% macro lake_sources_read_by(unique_ids) -%}
    {#- The sources these nodes read (unique ids): their own and those of the
        ephemeral models they ref, whose SQL is compiled into theirs (silver reads
        the erasure register through bronze_erasure__requests). A source given
        itself (`dbt source freshness`) counts. -#}
    {%- set found = [] -%}
    {%- set queue = [] -%}
    {%- for unique_id in unique_ids -%}
        {%- if unique_id.startswith('source.') -%}
            {%- do queue.append(unique_id) -%}
        {%- elif unique_id in graph.nodes -%}
            {%- do queue.extend(graph.nodes[unique_id].depends_on.nodes) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- the queue grows while it is read: an ephemeral model's reads join it -#}
    {%- for unique_id in queue -%}
        {%- if unique_id.startswith('source.') and unique_id not in found -%}
            {%- do found.append(unique_id) -%}
        {%- elif unique_id in graph.nodes
            and graph.nodes[unique_id].config.materialized == 'ephemeral' -%}
            {%- for parent in graph.nodes[unique_id].depends_on.nodes
                if parent not in queue -%}
                {%- do queue.append(parent) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
