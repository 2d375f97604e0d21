-- Every line-register snapshot of one tenant newer than a date (the history the discrepancy
-- check compares completed orders with): each line's plan and status per as-of date.
-- Grain: one row per as-of date and msisdn.
-- Parameters: $tenant_id, $after (DATE as text: only snapshots dated after it).
with final as (
    select
        cast(l.as_of as varchar) as as_of,
        l.msisdn,
        l.plan_code,
        l.status,
    from snap_line as l
    where l.tenant_id = $tenant_id
      and l.as_of > cast($after as date)
)

select * from final
order by as_of, msisdn
