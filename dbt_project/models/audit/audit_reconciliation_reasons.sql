{#- Per Olist data set and layer step: the rows each rule of silver and gold
    leaves out, each counted on its own from the layer above (not read from the
    model that applies the rule), with the rule itself taken from the same
    macros and vars the models use. A model that loses rows therefore shows up
    as an unexplained difference in the run's reconciliation. -#}

{%- set deduplicated = [
        ('orders', 'bronze_olist__orders'),
        ('order_items', 'bronze_olist__order_items'),
        ('order_payments', 'bronze_olist__order_payments'),
        ('order_reviews', 'bronze_olist__order_reviews'),
        ('customers', 'bronze_olist__customers'),
        ('sellers', 'bronze_olist__sellers'),
        ('products', 'bronze_olist__products'),
] -%}
{%- set need_an_order = [
        ('order_items', 'silver_order_items'),
        ('order_payments', 'silver_payments'),
        ('order_reviews', 'silver_reviews'),
] -%}

with

{% for dataset, model in deduplicated %}
{{ dataset }}_bronze as (
    select * from {{ ref(model) }}
),
{% endfor %}

{% for dataset, model in need_an_order %}
{{ dataset }}_silver as (
    select * from {{ ref(model) }}
),
{% endfor %}

orders_silver as (
    select * from {{ ref('silver_orders') }}
),

customers_silver as (
    select * from {{ ref('silver_customers') }}
),

erased as (
    select * from {{ ref('silver_erased_customers') }}
),

geolocation_bronze as (
    select * from {{ ref('bronze_olist__geolocation') }}
),

geolocation_points as (
    select
        {{ pad_zip('geolocation_zip_code_prefix') }} as zip_code_prefix,
        cast(geolocation_lat as double) as latitude,
        cast(geolocation_lng as double) as longitude
    from geolocation_bronze
),

reasons as (
    {% for dataset, model in deduplicated %}
    select
        '{{ dataset }}' as dataset,
        'silver' as layer,
        'duplicate removed' as reason,
        count(*)
        - count(distinct {{ key_text(natural_key(dataset)) }}) as row_count
    from {{ dataset }}_bronze
    union all
    {% endfor %}
    {% for dataset, model in need_an_order %}
    select
        '{{ dataset }}' as dataset,
        'gold' as layer,
        'filtered by rule: no such order' as reason,
        count(*) as row_count
    from {{ dataset }}_silver
    where order_id not in (select order_id from orders_silver)
    union all
    {% endfor %}
    select
        'customers' as dataset,
        'silver' as layer,
        'erased' as reason,
        count(distinct customer_id) as row_count
    from erased
    union all
    select
        'customers' as dataset,
        'silver' as layer,
        'anonymous member added' as reason,
        -count(*) as row_count
    from customers_silver
    where customer_id = '{{ var("erased_customer_id") }}'
    union all
    select
        'geolocation' as dataset,
        'silver' as layer,
        'aggregated: one row per zip prefix' as reason,
        count(*) - count(distinct zip_code_prefix) as row_count
    from geolocation_points
    union all
    select
        'geolocation' as dataset,
        'silver' as layer,
        'filtered by rule: no point inside Brazil' as reason,
        count(distinct zip_code_prefix) - count(
            distinct case
                when {{ in_brazil('latitude', 'longitude') }}
                    then zip_code_prefix
            end
        ) as row_count
    from geolocation_points
),

final as (
    select * from reasons
)

select * from final
