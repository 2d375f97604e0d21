-- Every line-services snapshot of one tenant newer than a date: which services each line had,
-- per as-of date (a line with none has no row in that snapshot).
-- Grain: one row per as-of date, msisdn and service.
-- Parameters: $tenant_id, $after (DATE as text: only snapshots dated after it).
with final as (
    select
        cast(s.as_of as varchar) as as_of,
        s.msisdn,
        s.service_code,
    from snap_line_service as s
    where s.tenant_id = $tenant_id
      and s.as_of > cast($after as date)
)

select * from final
order by as_of, msisdn, service_code
