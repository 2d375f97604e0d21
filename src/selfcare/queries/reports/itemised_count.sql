-- How many usage records (and what they cost) match the itemised filters, per bill period: the
-- page adds them up for the total beside the paged grid, and from the periods' counts finds which
-- bill periods its page of records can come from (selfcare.web.figures.itemised.scan_window).
-- Without a number or date filter the usage summary (agg_cdr_line_month: per line, month,
-- service, direction and roaming country) answers it exactly; with one, the records themselves
-- are counted (v_cdr_itemised).
-- Grain: one row per bill period with matching records.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive),
--   $msisdn (one line, NULL = all visible), $service ('VOICE' | 'SMS' | 'MMS' | 'DATA', NULL = all),
--   $number (other_party: digits for an exact number, digits and a trailing * for a prefix,
--   NULL = any),
--   $date_from, $date_to ('YYYY-MM-DD' in the tenant's timezone, inclusive, NULL = open);
--   scope parameters.
with summarised as (
    select
        s.bill_period,
        s.events,
        s.charge,
        s.duration_s,
        s.volume_kb,
    from agg_cdr_line_month as s
    where s.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, s.msisdn))
      and $number is null
      and $date_from is null
      and $date_to is null
      and s.bill_period between $period_from and $period_to
      and ($msisdn is null or s.msisdn = $msisdn)
      and ($service is null or s.service = $service)
),

matching as (
    select
        i.bill_period,
        i.charge,
        i.duration_s,
        i.volume_kb,
    from v_cdr_itemised as i
    where i.tenant_id = $scope_tenant_id
      and ($scope_all_lines or i.msisdn in (select unnest($scope_msisdns)))
      and not ($number is null and $date_from is null and $date_to is null)
      and i.bill_period between $period_from and $period_to
      and ($msisdn is null or i.msisdn = $msisdn)
      and ($service is null or i.service = $service)
      -- a trailing * asks for every number starting with the digits before it
      and ($number is null or i.other_party = $number or (ends_with($number, '*')
          and starts_with(i.other_party, substr($number, 1, length($number) - 1))))
      and ($date_from is null or i.local_date >= cast($date_from as date))
      and ($date_to is null or i.local_date <= cast($date_to as date))
),

unioned as (
    select bill_period, events, charge, duration_s, volume_kb from summarised
    union all
    select bill_period, 1 as events, charge, duration_s, volume_kb from matching
),

final as (
    select
        bill_period,
        cast(sum(events) as bigint) as records,
        sum(charge) as charge,
        sum(duration_s) as duration_s,
        sum(volume_kb) as volume_kb,
    from unioned
    group by bill_period
)

select * from final
order by bill_period
