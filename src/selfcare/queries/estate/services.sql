-- The operator's service catalogue (no tenant: the newest snapshot is the catalogue). Amounts
-- as text so they reach the order rules as exact decimals.
-- Grain: one row per service_code.
-- Parameters: none.
with final as (
    select
        s.service_code,
        s.name,
        s.category,
        s.payment,
        cast(s.monthly_fee as varchar) as monthly_fee,
        cast(s.once_off_fee as varchar) as once_off_fee,
    from dim_service as s
)

select * from final
order by service_code
