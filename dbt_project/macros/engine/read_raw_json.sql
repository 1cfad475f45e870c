{% macro raw_object_paths(manifest_relation) -%}
    {#- Lake paths of the accepted raw objects a manifest relation lists; on an
        incremental run only those the model has not processed yet; with var
        as_of_ingest_date (a backfill's day) only those ingested by that day.
        A full build with none fails, naming why (never ingested, or every object
        rejected), also in a trial build (var held_back_objects set, even to
        none), unless that trial's holding back is what left it empty. -#}
    {%- set paths = [] -%}
    {%- set incremental = is_incremental() -%}
    {%- set trial = var('held_back_objects', none) is not none -%}
    {%- if var('sqlfluff_lint', false) -%}
        {%- do paths.append(raw_root() ~ '/raw/lint.json') -%}
    {%- elif execute -%}
        {%- set listing -%}
            select object_key
            from {{ manifest_relation }}
            where
                status = 'accepted'
                {{ ingested_by_as_of('ingested_at') }}
                {{ not_held_back('sha256') }}
                {%- if incremental %}
                and sha256 not in (select distinct _sha256 from {{ this }})
                {%- endif %}
            order by ingested_at, object_key
        {%- endset -%}
        {%- for row in run_query(listing) -%}
            {%- do paths.append(raw_root() ~ '/' ~ row[0]) -%}
        {%- endfor -%}
        {%- if paths | length == 0 and not incremental -%}
            {%- set counting -%}
                select
                    coalesce(sum(case when status = 'accepted'
                        {{ ingested_by_as_of('ingested_at') }} then 1 else 0 end), 0),
                    coalesce(sum(case when status = 'rejected' then 1 else 0 end), 0)
                from {{ manifest_relation }}
            {%- endset -%}
            {%- set counts = run_query(counting).rows[0] -%}
            {%- if trial and counts[0] > 0 -%}
                {#- empty only because this trial holds its objects back -#}
            {%- elif counts[1] > 0 -%}
                {{ exceptions.raise_compiler_error(
                    "no accepted raw objects for " ~ this.identifier ~ ": its "
                    ~ counts[1] ~ " raw object(s) were rejected; deliver a corrected"
                    ~ " file, or accept one again (olist-elt raw readmit)") }}
            {%- else -%}
                {{ exceptions.raise_compiler_error(
                    "no accepted raw objects for " ~ this.identifier ~ " in "
                    ~ manifest_relation ~ "; run the connector first") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(paths) }}
{%- endmacro %}

{% macro no_raw_rows(columns) -%}
    {#- An empty relation with the reader's columns: an incremental run with no
        new raw object reads nothing. -#}
    (
        select
            {%- for column in columns %}
            cast(null as {{ dbt.type_string() }}) as {{ column }},
            {%- endfor %}
            cast(null as {{ dbt.type_string() }}) as filename
        where 1 = 0
    )
{%- endmacro %}

{% macro read_raw_json(manifest_relation, columns, json_format='array') -%}
    {{ return(adapter.dispatch('read_raw_json')(manifest_relation, columns, json_format)) }}
{%- endmacro %}

{% macro default__read_raw_json(manifest_relation, columns, json_format) -%}
    {{ return(default__read_raw_csv(manifest_relation, columns)) }}
{%- endmacro %}

{% macro duckdb__read_raw_json(manifest_relation, columns, json_format) -%}
    {#- One read_json per raw object, with the object's path as `filename`. -#}
    {%- set paths = raw_object_paths(manifest_relation) -%}
    {%- if not paths -%}{{ return(no_raw_rows(columns.keys() | list)) }}{%- endif -%}
    (
        {%- for path in paths %}
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
    {%- set paths = raw_object_paths(manifest_relation) -%}
    {%- if not paths -%}{{ return(no_raw_rows(columns.keys() | list)) }}{%- endif -%}
    (
        {%- for path in paths %}
        select
            *,
            '{{ path }}' as filename
        from {{ spark_raw_view(path, typed, 'json', {
            'multiLine': 'true' if json_format == 'array' else 'false'}) }}
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro ingested_by_as_of(column) -%}
    {#- `and <ingested by the backfill's day>` when var as_of_ingest_date is set,
        and `and <ingested by the moment the run read the manifest>` when var
        lake_as_of is (a pipeline run: what lands meanwhile is the next run's). -#}
    {%- if var('as_of_ingest_date', none) -%}
        and substring(cast({{ column }} as {{ dbt.type_string() }}), 1, 10)
        <= '{{ var("as_of_ingest_date") }}'
    {%- endif -%}
    {%- if var('lake_as_of', none) %}
        and cast({{ column }} as timestamp)
        <= cast('{{ var("lake_as_of") }}' as timestamp)
    {%- endif -%}
{%- endmacro %}
