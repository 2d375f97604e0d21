-- How many usage records (and what they cost) match the itemised filters: the total beside the
-- paged grid.
-- Grain: one row.
-- Columns and the tenant-timezone formatting come from the model view v_cdr_itemised.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive),
--   $msisdn (one line, NULL = all visible), $service ('VOICE' | 'SMS' | 'MMS' | 'DATA', NULL = all),
--   $number (other_party: digits for an exact number, digits and a trailing * for a prefix,
--   NULL = any),
--   $date_from, $date_to ('YYYY-MM-DD' in the tenant's timezone, inclusive, NULL = open);
--   scope parameters.
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
),

final as (
    select
        count(*) as records,
        coalesce(sum(charge), 0) as charge,
        coalesce(sum(duration_s), 0) as duration_s,
        coalesce(sum(volume_kb), 0) as volume_kb,
    from matching
)

select * from final
