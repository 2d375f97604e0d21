-- Invoice lines with their attribution, so every report groups the same way: account-level
-- charges (empty msisdn), unknown lines (msisdn not in the register) and unassigned lines (no
-- employee) get their own rows and are never dropped.
-- Grain: one row per invoice line. A model view created by the gate; reports apply the scope.
with billing as (
    select * from fct_billing
),

attribution as (
    select * from v_line_attribution
),

final as (
    select
        b.invoice_id,
        b.line_no,
        b.tenant_id,
        b.bill_period,
        b.account_id,
        b.msisdn,
        b.charge_type,
        b.description,
        b.amount,
        b.vat,
        a.employee_id,
        a.employee_name,
        a.plan_code,
        a.territory,
        case
            when b.msisdn is null or b.msisdn = '' then 'ACCOUNT_LEVEL'
            when a.msisdn is null then 'UNKNOWN'
            else a.cost_centre_id
        end as cost_centre_id,
        case
            when b.msisdn is null or b.msisdn = '' then 'Account level'
            when a.msisdn is null then 'Unknown lines'
            else a.cost_centre_name
        end as cost_centre_name,
    from billing as b
    left join attribution as a
        on a.msisdn = b.msisdn
        and a.tenant_id = b.tenant_id
)

select * from final
