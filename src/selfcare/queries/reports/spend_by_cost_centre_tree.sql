-- Spend along the cost-centre tree for the selected bill periods: each cost centre's own (direct)
-- spend and its rolled-up spend (itself plus every cost centre below it, following
-- dim_cost_centre parents), with the previous periods of the same length for the change.
-- Account level, Unassigned lines, Unknown lines (and any cost centre id missing from the
-- cost-centre file) are roots of their own. Only cost centres with spend in either window, and
-- their ancestors, appear: a manager sees the branches holding their chain's lines.
-- Grain: one row per cost centre. Parameters: $period_from, $period_to ('YYYY-MM', inclusive).
-- Amounts excl. VAT; vat from the invoices. lines: distinct lines billed in the selection.
with recursive cost_centres as (
    select
        c.cost_centre_id,
        c.name,
        nullif(c.parent_cost_centre_id, '') as parent_cost_centre_id,
    from dim_cost_centre as c
    where c.tenant_id = $scope_tenant_id
),

selection as (
    select
        cast($period_from || '-01' as date) as from_date,
        cast($period_to || '-01' as date) as to_date,
),

previous as (
    select
        strftime(
            from_date - to_months(cast(date_diff('month', from_date, to_date) + 1 as integer)),
            '%Y-%m'
        ) as previous_from,
        strftime(from_date - to_months(1), '%Y-%m') as previous_to,
    from selection
),

billing as (
    select
        b.bill_period,
        b.cost_centre_id,
        b.cost_centre_name,
        b.msisdn,
        b.amount,
        b.vat,
        b.bill_period >= $period_from as in_selection,
    from v_billing_attributed as b
    cross join previous as p
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      and b.bill_period between p.previous_from and $period_to
),

nodes as (
    select cost_centre_id, name, parent_cost_centre_id from cost_centres
    union
    select distinct
        b.cost_centre_id,
        coalesce(b.cost_centre_name, b.cost_centre_id) as name,
        cast(null as varchar) as parent_cost_centre_id,
    from billing as b
    where b.cost_centre_id not in (select cost_centre_id from cost_centres)
),

-- every (cost centre, ancestor-or-self) pair; depth guards against a cycle in a bad feed
ancestry as (
    select
        n.cost_centre_id,
        n.cost_centre_id as ancestor_id,
        0 as depth,
    from nodes as n

    union all

    select
        a.cost_centre_id,
        n.parent_cost_centre_id as ancestor_id,
        a.depth + 1 as depth,
    from ancestry as a
    inner join nodes as n
        on n.cost_centre_id = a.ancestor_id
    where n.parent_cost_centre_id is not null
      and a.depth < 64
),

direct as (
    select
        cost_centre_id,
        coalesce(sum(case when in_selection then amount end), 0) as amount_excl_vat,
        coalesce(sum(case when in_selection then vat end), 0) as vat,
        count(distinct case when in_selection then nullif(msisdn, '') end) as lines,
        coalesce(sum(case when not in_selection then amount end), 0) as previous_amount_excl_vat,
        coalesce(sum(case when not in_selection then vat end), 0) as previous_vat,
    from billing
    group by cost_centre_id
),

rolled as (
    select
        a.ancestor_id as cost_centre_id,
        sum(d.amount_excl_vat) as amount_excl_vat,
        sum(d.vat) as vat,
        -- a line belongs to one cost centre, so the subtree's lines add up without double counting
        cast(sum(d.lines) as bigint) as lines,
        sum(d.previous_amount_excl_vat) as previous_amount_excl_vat,
        sum(d.previous_vat) as previous_vat,
    from direct as d
    inner join ancestry as a
        on a.cost_centre_id = d.cost_centre_id
    group by a.ancestor_id
),

final as (
    select
        n.cost_centre_id,
        n.name as cost_centre_name,
        n.parent_cost_centre_id,
        r.lines,
        r.amount_excl_vat,
        r.vat,
        r.amount_excl_vat + r.vat as amount_incl_vat,
        case when r.lines > 0 then cast(r.amount_excl_vat / r.lines as decimal(18, 4)) end
            as spend_per_line_excl_vat,
        r.previous_amount_excl_vat,
        r.previous_amount_excl_vat + r.previous_vat as previous_amount_incl_vat,
        r.amount_excl_vat - r.previous_amount_excl_vat as change_excl_vat,
        (r.amount_excl_vat + r.vat) - (r.previous_amount_excl_vat + r.previous_vat)
            as change_incl_vat,
        coalesce(d.amount_excl_vat, 0) as direct_amount_excl_vat,
        coalesce(d.amount_excl_vat + d.vat, 0) as direct_amount_incl_vat,
        coalesce(d.lines, 0) as direct_lines,
    from rolled as r
    inner join nodes as n
        on n.cost_centre_id = r.cost_centre_id
    left join direct as d
        on d.cost_centre_id = r.cost_centre_id
)

select * from final
order by cost_centre_id
