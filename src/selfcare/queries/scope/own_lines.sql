-- The lines of one employee (an end user's own lines) in the current line register.
-- Grain: one row per msisdn.
-- Parameters: $tenant_id, $employee_id (bound by the gate from the session).
with final as (
    select distinct l.msisdn
    from dim_line as l
    where l.tenant_id = $tenant_id
      and l.employee_id = $employee_id
)

select * from final
order by msisdn
