-- Roaming usage by country: what the viewer's lines did and paid abroad, per bill period.
-- Grain: one row per bill period, roaming country and service.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive);
-- scope: $scope_tenant_id, $scope_all_lines, $scope_msisdns.
with usage as (
    select * from agg_cdr_line_month as u
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
      and u.bill_period between $period_from and $period_to
      -- roaming_country is '' at home
      and u.roaming_country <> ''
),

final as (
    select
        u.bill_period,
        u.roaming_country,
        u.service,
        count(distinct u.msisdn) as lines,
        cast(sum(u.events) as bigint) as events,
        cast(sum(case when u.service = 'VOICE' then u.duration_s else 0 end) as double) / 60
            as minutes,
        cast(sum(case when u.service = 'DATA' then u.volume_kb else 0 end) as double) / 1024
            as data_mb,
        sum(u.charge) as charge,
    from usage as u
    group by u.bill_period, u.roaming_country, u.service
)

select * from final
order by bill_period, roaming_country, service
