-- Usage records as the itemised reports show them: the contract's columns, with event_time as
-- ISO 8601 text in the tenant's timezone (event_time_utc keeps the instant for sorting) and the
-- tenant-local date that the itemised date filters compare with.
-- Grain: one row per usage record (fct_cdr). A model view created by the gate; reports apply the
-- scope and their filters on top (plain columns, so DuckDB pushes them down to the scan).
with cdr as (
    select * from fct_cdr
),

tenants as (
    select t.tenant_id, t.timezone
    from dim_tenant as t
),

localised as (
    select
        cdr.*,
        -- the tenant's wall clock: bill periods and the date filter follow the tenant's timezone
        -- (AT TIME ZONE, not timezone(): Spark's from_utc_timestamp is its transpilation)
        cdr.event_time at time zone tenants.timezone as local_time,
        -- the offset from epoch seconds, not date_diff on timestamps (not portable: see
        -- queries/portable.py); both instants are whole seconds apart by whole minutes
        cast(
            round((epoch(cdr.event_time at time zone tenants.timezone) - epoch(cdr.event_time)) / 60)
            as bigint
        ) as utc_offset_min,
    from cdr
    inner join tenants
        on tenants.tenant_id = cdr.tenant_id
),

final as (
    select
        record_id,
        tenant_id,
        account_id,
        msisdn,
        -- ISO 8601 with the tenant's UTC offset, e.g. 2026-04-01T08:15:00+02:00
        strftime(local_time, '%Y-%m-%d') || 'T' || strftime(local_time, '%H:%M:%S')
            || case when utc_offset_min < 0 then '-' else '+' end
            || lpad(cast(abs(utc_offset_min) // 60 as varchar), 2, '0')
            || ':'
            || lpad(cast(abs(utc_offset_min) % 60 as varchar), 2, '0') as event_time,
        service,
        direction,
        other_party,
        destination_class,
        roaming_country,
        duration_s,
        volume_kb,
        apn,
        charge,
        bundle_id,
        bill_period,
        event_time as event_time_utc,
        cast(local_time as date) as local_date,
    from localised
)

select * from final
