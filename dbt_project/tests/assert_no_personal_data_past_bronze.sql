{#- Fails when a raw value of a bronze column whose masking policy is
    `pseudonymize` appears in any text column of silver or gold. Policies are
    read from the columns' meta in the models' yml (the anonymous member's id,
    which an erasure puts in raw, names nobody). Contacts left in text are the
    assert_no_contact_details_in_* tests' job. -#}
{{ config(tags=['lake']) }}
{%- set published_models = [
    'silver_customers', 'silver_orders', 'silver_order_items',
    'silver_payments', 'silver_reviews', 'silver_products', 'silver_sellers',
    'silver_geolocation', 'dim_customer', 'dim_seller', 'dim_product',
    'dim_geography', 'fct_orders', 'fct_order_items', 'fct_payments',
    'fct_reviews',
] -%}
{%- set source_models = [
    'bronze_olist__customers', 'bronze_olist__orders',
    'bronze_olist__order_reviews',
] -%}
{%- for name in published_models + source_models %}
    -- depends_on: {{ ref(name) }}
{%- endfor %}

{%- set raw_columns = [] -%}
{%- set published_columns = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
        {%- for column in node.columns.values() -%}
            {%- set policy = column_meta(column).get('masking') -%}
            {%- if node.name in source_models and policy == 'pseudonymize' -%}
                {%- do raw_columns.append((node.name, column.name)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do published_columns.extend(string_columns(published_models)) -%}
{%- endif %}

with

raw_identifiers as (
    {%- for model, column in raw_columns %}
        select distinct {{ column }} as raw_value
        from {{ ref(model) }}
        {% if not loop.last %}union{% endif %}
    {%- else %}
        select cast(null as {{ dbt.type_string() }}) as raw_value
    {%- endfor %}
),

published_values as (
    {%- for model, column in published_columns %}
        select
            '{{ model }}.{{ column }}' as location,
            {{ column }} as published_value
        from {{ ref(model) }}
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as location,
            cast(null as {{ dbt.type_string() }}) as published_value
    {%- endfor %}
),

leaked_identifiers as (
    select
        published_values.location,
        'raw identifier' as problem,
        count(*) as failing_values
    from published_values
    inner join raw_identifiers
        on published_values.published_value = raw_identifiers.raw_value
    {#- an erasure writes the anonymous member's id into raw in place of the
        person's: it names nobody #}
    where raw_identifiers.raw_value != '{{ var("erased_customer_id") }}'
    group by 1, 2
),

final as (
    select * from leaked_identifiers
)

select * from final
