-- The operator's plan catalogue as orders see it. Amounts as text (exact decimals).
-- Grain: one row per plan_code.
-- Parameters: none.
with final as (
    select
        p.plan_code,
        p.plan_name,
        p.payment,
        cast(p.monthly_fee as varchar) as monthly_fee,
    from dim_plan as p
)

select * from final
order by plan_code
