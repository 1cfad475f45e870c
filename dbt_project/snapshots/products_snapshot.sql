{% snapshot products_snapshot %}
    {{ config(
        schema='snapshots',
        unique_key='product_id',
        strategy='check',
        check_cols=[
            'category_name_pt', 'category_name_en', 'name_length_chars',
            'description_length_chars', 'photos_qty', 'weight_g', 'length_cm',
            'height_cm', 'width_cm',
        ],
        updated_at='_ingested_at',
    ) }}

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
        width_cm,
        _ingested_at
    from {{ ref('silver_products') }}

{% endsnapshot %}
