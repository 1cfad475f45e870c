{% snapshot customers_snapshot %}
    {#- History of the masked customer attributes (pseudonyms, 3-digit zip,
        k-anonymous city): never a snapshot of raw personal data. A new version
        when a delivered attribute changes, dated by the raw object's ingestion. -#}
    {{ config(
        schema='snapshots',
        unique_key='customer_id',
        strategy='check',
        check_cols=['customer_unique_id', 'zip_code_prefix_3', 'city', 'state_code', 'region'],
        updated_at='_version_at',
        post_hook=[
            "{{ erase_from_snapshot('customer_id', ref('silver_customers')) }}",
            "{{ erase_from_saved_snapshot('customer_id', ref('silver_customers')) }}",
        ],
    ) }}

    select
        customer_id,
        customer_unique_id,
        zip_code_prefix_3,
        city,
        state_code,
        region,
        _ingested_at,
        {{ version_at('_ingested_at') }} as _version_at
    from {{ ref('silver_customers') }}
    where customer_id != '{{ var("erased_customer_id") }}'

{% endsnapshot %}
