{#- Location is generalized, finest first, until every combination of
    (zip prefix, city, state, region) shown holds at least k persons across
    all versions: the city becomes OTHER, then the zip prefix, the state and
    the region are left out. -#}
{%- set columns = [
    'customer_key', 'customer_id', 'customer_unique_id', 'zip_code_prefix_3',
    'city', 'state_code', 'region', 'valid_from', 'valid_to', 'is_current',
] -%}
{%- set location = ['zip_code_prefix_3', 'city', 'state_code', 'region'] -%}
{%- set k = var('pii_min_city_customers') -%}

with

versions as (
    {{ scd2_versions(
        ref('customers_snapshot'),
        'customer_id',
        ['customer_unique_id', 'zip_code_prefix_3', 'city', 'state_code', 'region'],
        'customer_key',
    ) }}
),

rare_cities as (
    {{ generalize_small_cells(
        'versions', columns, 'customer_unique_id', location, 'city', "'OTHER'", k
    ) }}
),

rare_zips as (
    {{ generalize_small_cells(
        'rare_cities', columns, 'customer_unique_id', location,
        'zip_code_prefix_3', 'null', k
    ) }}
),

rare_states as (
    {{ generalize_small_cells(
        'rare_zips', columns, 'customer_unique_id', location, 'state_code',
        'null', k
    ) }}
),

k_anonymous as (
    {{ generalize_small_cells(
        'rare_states', columns, 'customer_unique_id', location, 'region',
        'null', k
    ) }}
),

anonymous_member as (
    select
        customer_id as customer_key,
        customer_id,
        customer_unique_id,
        zip_code_prefix_3,
        city,
        state_code,
        region,
        cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }}) as valid_from,
        cast(null as {{ dbt.type_timestamp() }}) as valid_to,
        true as is_current
    from {{ ref('silver_customers') }}
    where customer_id = '{{ var("erased_customer_id") }}'
),

states as (
    select * from {{ ref('brazil_states') }}
),

all_versions as (
    select * from k_anonymous
    union all
    select * from anonymous_member
),

final as (
    select
        all_versions.customer_key,
        all_versions.customer_id,
        all_versions.customer_unique_id,
        all_versions.zip_code_prefix_3,
        all_versions.city,
        all_versions.state_code,
        states.state_name,
        all_versions.region,
        all_versions.valid_from,
        all_versions.valid_to,
        all_versions.is_current
    from all_versions
    left join states on all_versions.state_code = states.state_code
)

select * from final
