{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Layers get their own schema by name (bronze, silver, gold), not
        target_bronze.

        The pipeline's targets (local, warehouse, spark, spark_thrift) write the
        schemas BI tools read, so they work only inside `olist-elt run`
        (OLIST_PIPELINE_RUN=1), which builds gold into gold_staging (var
        stage_gold) and publishes it after the gold gate passes.

        The analyst's targets build into their own place: `dev` into its own
        DuckDB file (schemas by layer, as the pipeline's), `dev_warehouse` into
        <target schema>_<layer> (dev_<user>_gold, ...) except silver, which it
        reads as the pipeline published it. -#}
    {%- set layer = custom_schema_name | trim if custom_schema_name is not none else none -%}
    {%- if not target.name.startswith('dev')
        and env_var('OLIST_PIPELINE_RUN', '') != '1' -%}
        {{ exceptions.raise_compiler_error(
            "target '" ~ target.name ~ "' writes the served schemas: only `olist-elt"
            ~ " run` builds it (staging, gate, swap). Build with --target dev"
            ~ " (your own DuckDB file) or --target dev_warehouse (your own"
            ~ " PostgreSQL schemas) instead.") }}
    {%- endif -%}
    {%- if layer is none -%}
        {{ target.schema }}
    {%- elif target.name.startswith('dev') and target.type != 'duckdb'
        and layer != 'silver' -%}
        {{ target.schema }}_{{ layer }}
    {%- elif layer == 'gold' and var('stage_gold', false) -%}
        gold_staging
    {%- else -%}
        {{ layer }}
    {%- endif -%}
{%- endmacro %}
