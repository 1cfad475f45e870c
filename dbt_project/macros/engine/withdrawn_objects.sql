{% macro should_full_refresh() -%}
    {#- dbt's own rule (the model's full_refresh config, else --full-refresh), and
        on an analyst's own DuckDB file (target dev) one more: an incremental lake
        table that holds rows of a raw object the lake no longer accepts (erased,
        rejected, forgotten) is built again from the accepted objects. The
        pipeline asks for that itself (its run state); an analyst's `dbt build`
        appended and kept such rows: an erased person stayed in their file. dbt's
        incremental materializations and is_incremental() both ask this macro. -#}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is none -%}
        {%- set configured = flags.FULL_REFRESH -%}
    {%- endif -%}
    {{ return(configured or holds_withdrawn_objects()) }}
{%- endmacro %}

{% macro holds_withdrawn_objects() -%}
    {#- Whether this incremental lake table (one with _sha256 and _source_object,
        [cold/]raw/<source>/<data set>/...) holds rows of an object whose manifest
        record is not 'accepted' now, or is gone. Asked once per node and phase
        (kept with store_result); never in a pipeline run or a unit test. -#}
    {%- if not execute or target.name != 'dev' or target.type != 'duckdb'
        or model.resource_type != 'model'
        or model.config.materialized != 'incremental' -%}
        {{ return(false) }}
    {%- endif -%}
    {#- a stored result is read once: it is stored again each time it is read -#}
    {%- set kept = load_result('olist_withdrawn_objects') -%}
    {%- if kept is not none -%}
        {%- set withdrawn = kept['response'].rows_affected -%}
        {%- do store_raw_result('olist_withdrawn_objects', rows_affected=withdrawn) -%}
        {{ return(withdrawn > 0) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {%- if relation is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- if '_sha256' not in columns or '_source_object' not in columns -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set listing -%}
        select distinct
            regexp_extract(_source_object, 'raw/([^/]+)/([^/]+)/', 1) as source_name,
            regexp_extract(_source_object, 'raw/([^/]+)/([^/]+)/', 2) as data_set
        from {{ relation }}
        where _source_object is not null
    {%- endset -%}
    {%- set manifests = [] -%}
    {%- for row in run_query(listing).rows -%}
        {%- do manifests.append("getvariable('olist_raw_root') || '/raw/_manifest/"
            ~ row[0] ~ "/" ~ row[1] ~ "/*.json'") -%}
    {%- endfor -%}
    {%- if not manifests -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set counting -%}
        select count(*)
        from (select distinct _sha256 from {{ relation }} where _sha256 is not null)
        where _sha256 not in (
            select sha256
            from read_json_auto([{{ manifests | join(', ') }}], union_by_name = true)
            where status = 'accepted'
        )
    {%- endset -%}
    {%- set withdrawn = run_query(counting).rows[0][0] -%}
    {%- do store_raw_result('olist_withdrawn_objects', rows_affected=withdrawn) -%}
    {%- if withdrawn > 0 -%}
        {{ log(this ~ " holds rows of " ~ withdrawn ~ " raw object(s) the lake no"
            ~ " longer accepts (erased, rejected or forgotten): built again in full",
            info=true) }}
    {%- endif -%}
    {{ return(withdrawn > 0) }}
{%- endmacro %}
