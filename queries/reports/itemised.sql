-- Itemised usage for export: every CDR record of the viewer's lines in the period, with the
-- contract's columns (event_time as ISO 8601 in the tenant's timezone) plus bill_period, oldest
-- first. Streamed by the export route, so it may be millions of rows.
-- Grain: one row per usage record.
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
        record_id,
        account_id,
        msisdn,
        -- ISO 8601 with the tenant's UTC offset, e.g. 2026-04-01T08:15:00+02:00
        strftime(local_time, '%Y-%m-%dT%H:%M:%S')
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
    from filtered
)

select * exclude (event_time_utc) from final
order by event_time_utc, record_id
