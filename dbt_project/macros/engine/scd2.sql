{% macro scd2_versions(snapshot_relation, key, columns, surrogate_name) -%}
    {#- The versions of a snapshot as a type-2 dimension: a surrogate key per
        version, the masked attributes, valid_from / valid_to / is_current.
        valid_from of a key's first version is the start of time: before we first
        saw it, what we first saw is the best knowledge (an order placed in 2017
        joins the version first delivered in 2026). dbt_valid_from of a later
        version is when the raw object carrying the change was ingested. -#}
    select
        {{ surrogate_key([key, 'dbt_valid_from']) }} as {{ surrogate_name }},
        {{ key }},
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        case
            when row_number() over (
                partition by {{ key }} order by dbt_valid_from
            ) = 1
                then cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})
            else dbt_valid_from
        end as valid_from,
        dbt_valid_to as valid_to,
        dbt_valid_to is null as is_current
    from {{ snapshot_relation }}
{%- endmacro %}

{% macro valid_at(dimension, event_at) -%}
    {#- Join condition: the dimension version valid when the event happened. No
        OR: with plain comparisons the engines hash-join on the key and filter
        (an OR made DuckDB fall back to a nested-loop join, 60 s at scale 1). -#}
    {{ event_at }} >= {{ dimension }}.valid_from
    and {{ event_at }} < coalesce(
        {{ dimension }}.valid_to,
        cast('9999-12-31 00:00:00' as {{ dbt.type_timestamp() }})
    )
{%- endmacro %}

{% macro erase_from_snapshot(key, current_relation, snapshot=none) -%}
    {#- Post-hook of the customer snapshot: erasure reaches history too. Silver
        drops an erased customer (the register holds the keyed pseudonym of the
        person, applied in silver on every engine); their versions go with them,
        out of this snapshot or the one given. -#}
    delete from {{ snapshot or this }}
    where {{ key }} not in (select {{ key }} from {{ current_relation }})
{%- endmacro %}

{% macro erase_from_saved_snapshot(key, current_relation) -%}
    {#- Second post-hook: the same keys out of the copy the pipeline keeps of the
        snapshot until its next good run (schema <snapshots>_saved, as
        olist_elt.targets.snapshot_guard.saved_schema names it), so an erasure
        whose rebuild fails leaves the person in no saved history either. Every
        later build restores the copy and drops those keys anyway; none when there
        is no copy (an analyst's own schemas). -#}
    {%- set saved = adapter.get_relation(
        database=this.database,
        schema=this.schema ~ '_saved',
        identifier=this.identifier
    ) if execute else none -%}
    {%- if saved is not none -%}
        {{ erase_from_snapshot(key, current_relation, saved) }}
    {%- endif -%}
{%- endmacro %}

{% macro version_at(ingested_at) -%}
    {#- A snapshot's updated_at: when a changed row's new version begins. A
        row a raw object newer than the snapshot delivered begins with that
        object's ingestion. Any other row that changed did so through other
        rows (a city that k customers now share is no longer OTHER): its
        version begins with the newest object read, and always after the
        snapshot's last version. Dated by its own, older ingestion it took the
        instant of its current version: two versions of one key at one
        instant repeated dim_customer's surrogate key, and the run rejected
        the good files that had made the city visible. -#}
    {%- set snapshot = load_relation(this) if execute else none -%}
    {%- if snapshot is none -%}
        {{ ingested_at }}
    {%- else -%}
        {%- set last -%}
            (select max(dbt_updated_at) from {{ snapshot }})
        {%- endset -%}
        case
            when {{ ingested_at }} > {{ last }} then {{ ingested_at }}
            else greatest(
                max({{ ingested_at }}) over (),
                {{ dbt.dateadd('microsecond', 1, last) }}
            )
        end
    {%- endif -%}
{%- endmacro %}
