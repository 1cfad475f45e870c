{#- Incremental processing, keyed on the raw manifest.

    bronze (every Olist data set but the category translation, 71 rows): append
      the rows of raw objects the table has not processed yet (sha256 not in the
      table) - on every engine (append works on plain parquet on Spark).
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

{#- gold (the order-grain facts, built on DuckDB and PostgreSQL; Spark never
    builds gold): delete+insert by order_id, for exactly the orders whose gold
    rows can differ from the last good build - an order, item, payment or review
    row a newer raw object touched, an order of a customer (a product, a seller)
    with a new SCD2 version, and, in fct_orders, the open orders whose overdue
    bucket moves with the data's end date. The pipeline passes the ingestion time
    of the newest raw object the last good build read (var gold_changed_since);
    without it, or on --full-refresh, every order is built. A staging table that
    does not exist yet is a full build as well. -#}

{#- Gold's order facts have an enforced contract, which fixes each column's type
    when the table is made; dbt's 'fail' compares the declared types with those of
    the select as PostgreSQL infers them (text vs character varying) and stops on
    names of one type. 'append_new_columns' is the other setting dbt allows with a
    contract: a real change of a column fails the contract instead. A kept decimal
    off its contract's precision is altered before the build (contract_types.sql). -#}
{% macro gold_incremental() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'order_id',
        'on_schema_change': 'append_new_columns',
        'pre_hook': ['{{ align_stored_decimals() }}'],
    }) }}
{%- endmacro %}

{% macro changed_orders_only(order_id, open_orders=false, items_dims=false) -%}
    {#- A where clause keeping the orders to recompute (nothing on a full
        build). The relations are looked up, not ref()'d: every one is built
        before the fact (silver in an earlier step, the snapshots before the
        dimensions the fact joins), and a ref would make each unit test give
        them. items_dims: products and sellers matter (fct_order_items). -#}
    {%- set since = var('gold_changed_since', none) -%}
    {#- a unit test (no relation of its own) checks the full build -#}
    {%- set in_unit_test = model.resource_type == 'unit_test' or this is none -%}
    {%- if since and not in_unit_test and is_incremental() -%}
        {%- set orders = built_relation('silver_orders') -%}
        {%- set items = built_relation('silver_order_items') -%}
        {%- set after = "> cast('" ~ since ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}
        where {{ order_id }} in (
            select order_id from {{ orders }} where _ingested_at {{ after }}
            union
            select order_id from {{ items }} where _ingested_at {{ after }}
            union
            select order_id from {{ built_relation('silver_payments') }}
            where _ingested_at {{ after }}
            union
            select order_id from {{ built_relation('silver_reviews') }}
            where _ingested_at {{ after }}
            union
            select order_id from {{ orders }}
            where customer_id in (
                select customer_id from {{ built_relation('customers_snapshot') }}
                where dbt_valid_from {{ after }}
            )
            {%- if items_dims %}
            union
            select order_id from {{ items }}
            where
                product_id in (
                    select product_id
                    from {{ built_relation('products_snapshot') }}
                    where dbt_valid_from {{ after }}
                )
                or seller_id in (
                    select seller_id from {{ built_relation('sellers_snapshot') }}
                    where dbt_valid_from {{ after }}
                )
            {%- endif %}
            {%- if open_orders %}
            union
            {{ orders_with_moving_bucket(orders) }}
            {%- endif %}
        )
    {%- endif -%}
{%- endmacro %}

{% macro built_relation(name) -%}
    {#- The relation a model or snapshot of this project is built into. -#}
    {%- for node in graph.nodes.values() -%}
        {%- if node.name == name
            and node.resource_type in ('model', 'snapshot') -%}
            {{ return(api.Relation.create(
                database=node.database,
                schema=node.schema,
                identifier=node.alias,
            )) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('no model or snapshot ' ~ name) }}
{%- endmacro %}

{% macro orders_with_moving_bucket(orders) -%}
    {#- Open orders whose is_overdue or open_order_bucket changes when the data's
        end date (the latest purchase date) moves from what fct_orders was built
        with to what silver holds now: an estimated delivery date between the old
        end, less the stalled-after days, and the new end. -#}
    select moving.order_id
    from {{ orders }} as moving
    cross join (
        select max(purchase_date) as old_end from {{ this }}
    ) as built
    cross join (
        select max(purchase_date) as new_end from {{ orders }}
    ) as now_holds
    where
        moving.order_status != 'delivered'
        and not {{ is_lost_order('moving.order_status') }}
        and built.old_end != now_holds.new_end
        and moving.estimated_delivery_date >= {{ dbt.dateadd(
            'day',
            -(var('stalled_after_days') + 1),
            'least(built.old_end, now_holds.new_end)',
        ) }}
        and moving.estimated_delivery_date
        <= greatest(built.old_end, now_holds.new_end)
{%- endmacro %}
