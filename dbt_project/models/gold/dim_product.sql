with

versions as (
    {{ scd2_versions(
        ref('products_snapshot'),
        'product_id',
        [
            'category_name_pt', 'category_name_en', 'name_length_chars',
            'description_length_chars', 'photos_qty', 'weight_g', 'length_cm',
            'height_cm', 'width_cm',
        ],
        'product_key',
    ) }}
)

select * from versions
