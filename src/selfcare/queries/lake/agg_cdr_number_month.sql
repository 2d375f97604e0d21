-- Numbers dialled per tenant and month: the tenant-wide Top 50 numbers reads this instead of the
-- raw CDRs (a tenant's year of calls is tens of millions of rows; its numbers, a few hundred
-- thousand). A number dialled is an outgoing (MO) event with a non-empty other_party, as in
-- reports.top_numbers.
-- Grain: one row per tenant, bill period, service, other_party and destination_class (NULL when
-- the CDR has none).
-- Reads: fct_cdr_affected (defined by the loader). Parameters: none.
with cdr as (
    select
        c.tenant_id,
        c.bill_period,
        c.service,
        c.other_party,
        c.destination_class,
        c.duration_s,
        c.charge,
    from fct_cdr_affected as c
    where c.direction = 'MO'
      and c.other_party is not null
      and c.other_party <> ''
),

final as (
    select
        tenant_id,
        bill_period,
        service,
        other_party,
        destination_class,
        count(*) as calls,
        cast(coalesce(sum(duration_s), 0) as bigint) as duration_s,
        -- sum() widens DECIMAL(18,4) to DECIMAL(38,4); the lake keeps amounts at (18,4)
        cast(coalesce(sum(charge), 0) as decimal(18, 4)) as cost,
    from cdr
    group by tenant_id, bill_period, service, other_party, destination_class
)

select * from final
-- sorted so a lookup of a few numbers reads few row groups (zone maps on other_party)
order by service, other_party
