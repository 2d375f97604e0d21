-- Numbers dialled per line and month: the Top 50 numbers of a manager's or an end user's lines,
-- of one cost centre, the lines that called a number, and how many distinct lines called each of
-- a tenant's Top 50. A number dialled is an outgoing (MO) event with a non-empty other_party, as
-- in reports.top_numbers.
-- Grain: one row per tenant, bill period, msisdn, service, other_party and destination_class
-- (NULL when the CDR has none).
-- Reads: fct_cdr_affected (defined by the loader). Parameters: none.
with cdr as (
    select
        c.tenant_id,
        c.bill_period,
        c.msisdn,
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
        msisdn,
        service,
        other_party,
        destination_class,
        count(*) as calls,
        cast(coalesce(sum(duration_s), 0) as bigint) as duration_s,
        -- sum() widens DECIMAL(18,4) to DECIMAL(38,4); the lake keeps amounts at (18,4)
        cast(coalesce(sum(charge), 0) as decimal(18, 4)) as cost,
    from cdr
    group by tenant_id, bill_period, msisdn, service, other_party, destination_class
)

select * from final
-- sorted by number so "who called this number" reads few row groups (zone maps on other_party)
order by service, other_party, msisdn
