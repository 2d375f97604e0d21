-- One page (100 records) of itemised usage for the portal grid, sorted on the server by a
-- whitelisted column: the sort column is a bound value compared in CASE expressions, never SQL
-- text from the request. Ties are broken by record_id so pages never overlap. By time means as
-- the itemised export orders: bill period by bill period, by time within each (a CDR's bill
-- period is the month of its time in the tenant's timezone, so this is plain time order unless
-- the tenant's timezone changed between loads).
-- Grain: one row per usage record, at most 100 rows.
-- Columns and the tenant-timezone formatting come from the model view v_cdr_itemised.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive),
--   $msisdn (one line, NULL = all visible), $service ('VOICE' | 'SMS' | 'MMS' | 'DATA', NULL = all),
--   $number (other_party: digits for an exact number, digits and a trailing * for a prefix,
--   NULL = any),
--   $date_from, $date_to ('YYYY-MM-DD' in the tenant's timezone, inclusive, NULL = open),
--   $sort ('event_time' | 'msisdn' | 'service' | 'other_party' | 'duration_s' | 'volume_kb' |
--   'charge'), $descending (boolean), $offset (rows to skip), $scan_from, $scan_to (see below);
--   scope parameters.
-- The sort runs on the plain columns and only the page's 100 records get the tenant-local
-- formatting (v_cdr_itemised computes it per row: for every record of a whole tenant it cost
-- seconds). Each sort is its own branch with a plain ORDER BY ... LIMIT (the branches of the
-- other sorts fold away once the parameters are bound), so DuckDB runs a top-N on the column
-- itself rather than on fourteen CASE expressions.
-- $scan_from, $scan_to ('YYYY-MM', within the period) bound the bill periods read: the page works
-- them out from the records per period (selfcare.web.figures.itemised.scan_window), so a page sorted
-- by time reads only the newest (or oldest) periods that hold it, and no sort reads a period
-- without a matching record. They are plain values, so the scan skips the other partitions.
with
-- not materialized: only the branch of the chosen sort is left to read it
matching as not materialized (
    select
        i.record_id,
        i.bill_period,
        i.msisdn,
        i.service,
        i.other_party,
        i.duration_s,
        i.volume_kb,
        i.charge,
        i.event_time_utc,
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
      and i.bill_period between $scan_from and $scan_to
),

page as (
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'event_time' and not $descending
        order by bill_period asc, event_time_utc asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'event_time' and $descending
        order by bill_period desc, event_time_utc desc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'msisdn' and not $descending
        order by msisdn asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'msisdn' and $descending
        order by msisdn desc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'service' and not $descending
        order by service asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'service' and $descending
        order by service desc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'other_party' and not $descending
        order by other_party asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'other_party' and $descending
        order by other_party desc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'duration_s' and not $descending
        order by duration_s asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'duration_s' and $descending
        order by duration_s desc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'volume_kb' and not $descending
        order by volume_kb asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'volume_kb' and $descending
        order by volume_kb desc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'charge' and not $descending
        order by charge asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'charge' and $descending
        order by charge desc, record_id
        limit 100 offset $offset
    )
),

final as (
    -- the view's columns are in the export's order; drop those used only to filter
    select i.* exclude (tenant_id, account_id, local_date)
    from v_cdr_itemised as i
    inner join page
        on page.record_id = i.record_id
        and page.bill_period = i.bill_period
        and page.msisdn = i.msisdn
    where i.tenant_id = $scope_tenant_id
      and ($scope_all_lines or i.msisdn in (select unnest($scope_msisdns)))
      and i.bill_period between $period_from and $period_to
      and i.bill_period between $scan_from and $scan_to
)

select * exclude (event_time_utc) from final
order by
    case when $sort = 'event_time' and not $descending then bill_period end asc,
    case when $sort = 'event_time' and not $descending then event_time_utc end asc,
    case when $sort = 'event_time' and $descending then bill_period end desc,
    case when $sort = 'event_time' and $descending then event_time_utc end desc,
    case when $sort = 'msisdn' and not $descending then msisdn end asc,
    case when $sort = 'msisdn' and $descending then msisdn end desc,
    case when $sort = 'service' and not $descending then service end asc,
    case when $sort = 'service' and $descending then service end desc,
    case when $sort = 'other_party' and not $descending then other_party end asc,
    case when $sort = 'other_party' and $descending then other_party end desc,
    case when $sort = 'duration_s' and not $descending then duration_s end asc,
    case when $sort = 'duration_s' and $descending then duration_s end desc,
    case when $sort = 'volume_kb' and not $descending then volume_kb end asc,
    case when $sort = 'volume_kb' and $descending then volume_kb end desc,
    case when $sort = 'charge' and not $descending then charge end asc,
    case when $sort = 'charge' and $descending then charge end desc,
    record_id
