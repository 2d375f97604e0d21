-- One page (100 records) of itemised usage for the portal grid, sorted on the server by a
-- whitelisted column: the sort column is a bound value compared in CASE expressions, never SQL
-- text from the request. Ties are broken by record_id so pages never overlap.
-- Grain: one row per usage record, at most 100 rows.
-- Columns and the tenant-timezone formatting come from the model view v_cdr_itemised.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive),
--   $msisdn (one line, NULL = all visible), $service ('VOICE' | 'SMS' | 'MMS' | 'DATA', NULL = all),
--   $number (other_party: digits for an exact number, digits and a trailing * for a prefix,
--   NULL = any),
--   $date_from, $date_to ('YYYY-MM-DD' in the tenant's timezone, inclusive, NULL = open),
--   $sort ('event_time' | 'msisdn' | 'service' | 'other_party' | 'duration_s' | 'volume_kb' |
--   'charge'), $descending (boolean), $offset (rows to skip); scope parameters.
-- The sort runs on the plain columns and only the page's 100 records get the tenant-local
-- formatting (v_cdr_itemised computes it per row: for every record of a whole tenant it cost
-- seconds). Each sort is its own branch with a plain ORDER BY ... LIMIT (the branches of the
-- other sorts fold away once the parameters are bound), so DuckDB runs a top-N on the column
-- itself rather than on fourteen CASE expressions.
-- Sorted by time without a number or date filter, only the newest (oldest) bill periods are
-- read: the usage summary counts the matching records per period, and once the periods from P
-- on hold $offset + 100 records, no record of period P - 2 or earlier can be on the page (a
-- record's bill period is the month of its time in the tenant's zone, so a record of P - 2 is
-- older than any of P, whatever zone); P - 1 is still read so the answer stays exact.
with counted as (
    -- matching records per bill period, from the usage summary: exact without a number or date
    -- filter (the only filters it cannot answer), so used only then
    select
        s.bill_period,
        sum(s.events) as events,
    from agg_cdr_line_month as s
    where s.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, s.msisdn))
      and $sort = 'event_time'
      and $number is null
      and $date_from is null
      and $date_to is null
      and s.bill_period between $period_from and $period_to
      and ($msisdn is null or s.msisdn = $msisdn)
      and ($service is null or s.service = $service)
    group by s.bill_period
),

cumulative as (
    select
        bill_period,
        sum(events) over (order by bill_period desc rows unbounded preceding) as from_here_on,
        sum(events) over (order by bill_period asc rows unbounded preceding) as up_to_here,
    from counted
),

bounds as (
    -- the newest P whose records and every later period's fill the page, one month earlier;
    -- likewise the oldest for an ascending sort; the whole window when the page is not filled
    select
        coalesce(
            strftime(cast(max(case when from_here_on >= $offset + 100 then bill_period end)
                || '-01' as date) - interval 1 month, '%Y-%m'),
            $period_from
        ) as newest_from,
        coalesce(
            strftime(cast(min(case when up_to_here >= $offset + 100 then bill_period end)
                || '-01' as date) + interval 1 month, '%Y-%m'),
            $period_to
        ) as oldest_to,
    from cumulative
),

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
      and ($sort <> 'event_time' or not $descending
          or i.bill_period >= (select newest_from from bounds))
      and ($sort <> 'event_time' or $descending
          or i.bill_period <= (select oldest_to from bounds))
),

page as (
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'event_time' and not $descending
        order by event_time_utc asc, record_id
        limit 100 offset $offset
    )
    union all
    select * from (
        select record_id, bill_period, msisdn from matching
        where $sort = 'event_time' and $descending
        order by event_time_utc desc, record_id
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
)

select * exclude (event_time_utc) from final
order by
    case when $sort = 'event_time' and not $descending then event_time_utc end asc,
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
