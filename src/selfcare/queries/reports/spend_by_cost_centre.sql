-- Spend by cost centre and bill period, direct amounts (no roll-up along the tree), so the rows
-- of a period add up to the invoice total for the viewer's scope. Account-level charges, unassigned
-- lines and unknown lines are their own rows: ACCOUNT_LEVEL, UNASSIGNED, UNKNOWN.
-- Grain: one row per bill period and cost centre.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive).
-- lines: the distinct lines (msisdns) billed in that cost centre and period; 0 for account level.
with billing as (
    select
        b.bill_period,
        b.cost_centre_id,
        b.cost_centre_name,
        b.msisdn,
        b.amount,
        b.vat,
    from v_billing_attributed as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      and b.bill_period between $period_from and $period_to
),

final as (
    select
        bill_period,
        cost_centre_id,
        -- a cost centre id missing from the cost-centre file still gets a row, named by its id
        coalesce(cost_centre_name, cost_centre_id) as cost_centre_name,
        count(distinct nullif(msisdn, '')) as lines,
        sum(amount) as amount_excl_vat,
        sum(vat) as vat,
        sum(amount) + sum(vat) as amount_incl_vat,
    from billing
    group by bill_period, cost_centre_id, coalesce(cost_centre_name, cost_centre_id)
)

select * from final
order by bill_period, cost_centre_id
