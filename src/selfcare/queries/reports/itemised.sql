-- Itemised usage for export: every CDR record of the viewer's lines in the period, with the
-- contract's columns (event_time as ISO 8601 in the tenant's timezone) plus bill_period, oldest
-- first: bill period by bill period, by time within each (a CDR's bill period is the month of its
-- time in the tenant's timezone, so this is plain time order unless the tenant's timezone changed).
-- Streamed by the export route, so it may be millions of rows:
-- Streamed in time chunks by the gate. (selfcare.gate.stream runs it once per bill period and UTC
-- day, binding $chunk_from/$chunk_to: a year's export sorts a day at a time, and the first rows
-- leave after one day's sort.)
-- Grain: one row per usage record.
-- Columns and the tenant-timezone formatting come from the model view v_cdr_itemised.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive),
--   $msisdn (one line, NULL = all visible), $service ('VOICE' | 'SMS' | 'MMS' | 'DATA', NULL = all),
--   $number (other_party: digits for an exact number, digits and a trailing * for a prefix,
--   NULL = any),
--   $date_from, $date_to ('YYYY-MM-DD' in the tenant's timezone, inclusive, NULL = open);
--   $chunk_from, $chunk_to (bound by the gate, see above); scope parameters.
with matching as (
    select i.*
    from v_cdr_itemised as i
    where i.tenant_id = $scope_tenant_id
      and ($scope_all_lines or i.msisdn in (select unnest($scope_msisdns)))
      and i.bill_period between $period_from and $period_to
      and ($msisdn is null or i.msisdn = $msisdn)
      and ($service is null or i.service = $service)
      -- a trailing * asks for every number starting with the digits before it
      and ($number is null or i.other_party = $number or (ends_with($number, '*')
          and starts_with(i.other_party, substr($number, 1, length($number) - 1))))
      and ($date_from is null or i.local_date >= cast($date_from as date))
      and ($date_to is null or i.local_date <= cast($date_to as date))
      -- the gate's time chunk (NULL: open)
      and ($chunk_from is null or i.event_time_utc >= $chunk_from)
      and ($chunk_to is null or i.event_time_utc < $chunk_to)
),

final as (
    -- the view's columns are in the export's order; drop those used only to filter
    select * exclude (tenant_id, local_date)
    from matching
)

select * exclude (event_time_utc) from final
order by bill_period, event_time_utc, record_id
