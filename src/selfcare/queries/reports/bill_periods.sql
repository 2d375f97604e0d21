-- The bill periods with invoice or usage data visible to the viewer, oldest first.
-- Grain: one row per bill period. Parameters: scope only.
with billing as (
    select distinct b.bill_period
    from fct_billing as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
),

usage as (
    select distinct u.bill_period
    from agg_cdr_line_month as u
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
),

final as (
    select bill_period from billing
    union
    select bill_period from usage
)

select * from final
order by bill_period
