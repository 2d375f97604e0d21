-- How many usage records (and what they cost) match the itemised filters: the total beside the
-- paged grid.
-- Grain: one row.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive),
--   $msisdn (one line, NULL = all visible), $service ('VOICE' | 'SMS' | 'MMS' | 'DATA', NULL = all),
--   $number (other_party: digits for an exact number, digits and a trailing * for a prefix,
--   NULL = any),
--   $date_from, $date_to ('YYYY-MM-DD' in the tenant's timezone, inclusive, NULL = open);
--   scope parameters.
with tenant as (
    select
        t.tenant_id,
        t.timezone,
    from dim_tenant as t
    where t.tenant_id = $scope_tenant_id
),

cdr as (
    select c.*
    from fct_cdr as c
    where c.tenant_id = $scope_tenant_id
      and ($scope_all_lines or c.msisdn in (select unnest($scope_msisdns)))
      and c.bill_period between $period_from and $period_to
      and ($msisdn is null or c.msisdn = $msisdn)
      and ($service is null or c.service = $service)
      and (
          $number is null
          or c.other_party = $number
          -- a trailing * asks for every number starting with the digits before it
          or (
              substr($number, length($number), 1) = '*'
              and substr(c.other_party, 1, length($number) - 1)
                  = substr($number, 1, length($number) - 1)
          )
      )
),

localised as (
    select
        cdr.*,
        -- the tenant's wall clock: bill periods and the date filter follow the tenant's timezone
        timezone(tenant.timezone, cdr.event_time) as local_time,
        date_diff(
            'minute', timezone('UTC', cdr.event_time), timezone(tenant.timezone, cdr.event_time)
        ) as utc_offset_min,
    from cdr
    inner join tenant
        on tenant.tenant_id = cdr.tenant_id
),

filtered as (
    select localised.*
    from localised
    where ($date_from is null or cast(local_time as date) >= cast($date_from as date))
      and ($date_to is null or cast(local_time as date) <= cast($date_to as date))
),

final as (
    select
        count(*) as records,
        coalesce(sum(charge), 0) as charge,
        coalesce(sum(duration_s), 0) as duration_s,
        coalesce(sum(volume_kb), 0) as volume_kb,
    from filtered
)

select * from final
