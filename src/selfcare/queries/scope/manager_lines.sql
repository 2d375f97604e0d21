-- The lines a manager may see: their own and those of every employee below them in the reporting
-- chain (all levels), in the current employees snapshot, so scope follows HR changes on next load.
-- Grain: one row per msisdn.
-- Parameters: $tenant_id, $employee_id (bound by the gate from the session, never from a request).
with recursive chain as (
    select
        e.employee_id,
        0 as depth,
    from dim_employee as e
    where e.tenant_id = $tenant_id
      and e.employee_id = $employee_id

    -- union all (Spark refuses a deduplicating union in a recursive CTE): the depth bound ends a
    -- cycle, and final's distinct removes an employee reached twice
    union all

    select
        e.employee_id,
        chain.depth + 1 as depth,
    from dim_employee as e
    inner join chain
        on e.manager_employee_id = chain.employee_id
    where e.tenant_id = $tenant_id
      -- a cycle in a bad HR feed must not loop forever
      and chain.depth < 64
),

final as (
    select distinct l.msisdn
    from dim_line as l
    inner join chain
        on l.employee_id = chain.employee_id
    where l.tenant_id = $tenant_id
)

select * from final
order by msisdn
