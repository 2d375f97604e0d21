-- The services each line of one tenant has in the operator's latest snapshot.
-- Grain: one row per msisdn and service.
-- Parameters: $tenant_id.
with final as (
    select
        s.msisdn,
        s.service_code,
        cast(s.activated_on as varchar) as activated_on,
        cast(s.as_of as varchar) as as_of,
    from dim_line_service as s
    where s.tenant_id = $tenant_id
)

select * from final
order by msisdn, service_code
