{#- Type 2 on the product's own attributes (products_snapshot); the category
    is type 1: every version carries the product's current category, so a
    corrected translation reaches past sales too. -#}
with

versions as (
    {{ scd2_versions(
        ref('products_snapshot'),
        'product_id',
        [
            'name_length_chars', 'description_length_chars', 'photos_qty',
            'weight_g', 'length_cm', 'height_cm', 'width_cm',
        ],
        'product_key',
    ) }}
),

products as (
    select * from {{ ref('silver_products') }}
),

final as (
    select
        versions.product_key,
        versions.product_id,
        products.category_name_pt,
        products.category_name_en,
        versions.name_length_chars,
        versions.description_length_chars,
        versions.photos_qty,
        versions.weight_g,
        versions.length_cm,
        versions.height_cm,
        versions.width_cm,
        versions.valid_from,
        versions.valid_to,
        versions.is_current
    from versions
    left join products on versions.product_id = products.product_id
)

select * from final
