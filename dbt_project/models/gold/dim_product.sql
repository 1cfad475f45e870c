with

products as (
    select * from {{ ref('silver_products') }}
),

final as (
    select
        product_id,
        category_name_pt,
        category_name_en,
        name_length_chars,
        description_length_chars,
        photos_qty,
        weight_g,
        length_cm,
        height_cm,
        width_cm
    from products
)

select * from final
