with

products as (
    select * from {{ ref('bronze_olist__products') }}
),

translations as (
    select * from {{ ref('bronze_olist__category_translation') }}
),

overrides as (
    select * from {{ ref('category_translation_overrides') }}
),

latest as (
    {{ latest_per_key('products', natural_key('products')) }}
),

latest_translations as (
    {{ latest_per_key('translations', ['product_category_name']) }}
),

final as (
    select
        latest.product_id,
        nullif(trim(latest.product_category_name), '') as category_name_pt,
        coalesce(
            latest_translations.product_category_name_english,
            overrides.product_category_name_english,
            case
                when nullif(trim(latest.product_category_name), '') is null
                    then 'uncategorized'
            end,
            latest.product_category_name
        ) as category_name_en,
        cast(cast(nullif(latest.product_name_length, '') as double) as integer)
            as name_length_chars,
        cast(
            cast(
                nullif(latest.product_description_length, '') as double
            ) as integer
        )
            as description_length_chars,
        cast(cast(nullif(latest.product_photos_qty, '') as double) as integer)
            as photos_qty,
        cast(nullif(latest.product_weight_g, '') as double) as weight_g,
        cast(nullif(latest.product_length_cm, '') as double) as length_cm,
        cast(nullif(latest.product_height_cm, '') as double) as height_cm,
        cast(nullif(latest.product_width_cm, '') as double) as width_cm,
        latest._source_object,
        latest._sha256,
        latest._ingested_at
    from latest
    left join latest_translations
        on
            trim(latest.product_category_name)
            = trim(latest_translations.product_category_name)
    left join overrides
        on trim(latest.product_category_name) = overrides.product_category_name
)

select * from final
