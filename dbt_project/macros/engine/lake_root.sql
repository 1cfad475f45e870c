{% macro lake_root() -%}
    {#- The local lake folder (runs, erasure register), without a trailing slash. -#}
    {{- return(env_var('OLIST_LAKE_DIR', '../lake').rstrip('/')) -}}
{%- endmacro %}

{% macro raw_root() -%}
    {#- The raw zone's root: the lake folder, or s3://bucket[/prefix] when the lake
        is a bucket (DuckDB reads it through httpfs; Spark through s3a). -#}
    {%- set root = env_var('OLIST_RAW_ROOT', lake_root()).rstrip('/') -%}
    {%- if target.type == 'spark' and root.startswith('s3://') -%}
        {%- set root = 's3a://' ~ root[5:] -%}
    {%- endif -%}
    {{- return(root) -}}
{%- endmacro %}
