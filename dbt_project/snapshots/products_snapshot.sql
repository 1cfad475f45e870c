{#- The category is not tracked: dim_product takes it from silver (type 1). -#}
{% snapshot products_snapshot %}
    {{ config(
        schema='snapshots',
        unique_key='product_id',
        strategy='check',
        check_cols=[
            'name_length_chars', 'description_length_chars', 'photos_qty',
            'weight_g', 'length_cm', 'height_cm', 'width_cm',
        ],
        updated_at='_version_at',
    ) }}

    select
        product_id,
        name_length_chars,
        description_length_chars,
        photos_qty,
        weight_g,
        length_cm,
        height_cm,
        width_cm,
        _ingested_at,
        {{ version_at('_ingested_at') }} as _version_at
    from {{ ref('silver_products') }}

{% endsnapshot %}
