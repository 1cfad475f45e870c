{% snapshot sellers_snapshot %}
    {{ config(
        schema='snapshots',
        unique_key='seller_id',
        strategy='check',
        check_cols=['zip_code_prefix', 'city', 'state_code', 'region'],
        updated_at='_version_at',
    ) }}

    select
        seller_id,
        zip_code_prefix,
        city,
        state_code,
        region,
        _ingested_at,
        {{ version_at('_ingested_at') }} as _version_at
    from {{ ref('silver_sellers') }}

{% endsnapshot %}
