{#- Incremental processing, keyed on the raw manifest.

    bronze (the big tables): append the rows of raw objects the table has not
      processed yet (sha256 not in the table) - on every engine (append works on
      plain parquet on Spark).
    silver (the big tables):
      duckdb (and any engine with delete): delete+insert by the natural key, for
        exactly the keys a new raw object touched, every version of those keys
        recomputed (latest-per-key, aggregates), so late and updated records land
        on the right rows.
      spark: insert_overwrite without partitions - the whole table rewritten from
        bronze each run (plain parquet has no delete or merge without Delta).
    Anything that can remove rows (a rejected batch, a readmitted one, an erasure)
    makes the pipeline pass --full-refresh once. -#}

{% macro bronze_incremental() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
    }) }}
{%- endmacro %}

{% macro silver_incremental(unique_key) -%}
    {%- if target.type == 'spark' -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'insert_overwrite',
            'on_schema_change': 'fail',
        }) }}
    {%- else -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'delete+insert',
            'unique_key': unique_key,
            'on_schema_change': 'fail',
        }) }}
    {%- endif -%}
{%- endmacro %}

{% macro touched_rows(bronze, keys) -%}
    {#- Every bronze row of each key (bronze key expressions) that a raw object
        newer than this table touched; all of bronze on a full build or on Spark. -#}
    {%- if is_incremental() and target.type != 'spark' -%}
        select *
        from {{ bronze }}
        where ({{ keys | join(', ') }}) in (
            select {{ keys | join(', ') }}
            from {{ bronze }}
            where _ingested_at > (
                select coalesce(
                    max(_ingested_at),
                    cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})
                )
                from {{ this }}
            )
        )
    {%- else -%}
        select * from {{ bronze }}
    {%- endif -%}
{%- endmacro %}
