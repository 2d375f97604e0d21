-- The invoice lines the viewer may query in a ticket (a billing query names one): the charges of
-- the viewer's own lines (Administrators and Financial Managers: every line of the tenant,
-- account-level charges included). The ticket services check an invoice line through this query
-- under the raiser's scope, so nobody can dispute a charge they may not see.
-- Grain: one row per invoice line.
-- Parameters: $msisdn (one line, NULL = all visible), $invoice_id and $line_no (one invoice
--   line, NULL = any), $period_from, $period_to ('YYYY-MM', inclusive), $limit; scope parameters.
with billing as (
    select
        b.invoice_id,
        b.line_no,
        b.bill_period,
        b.msisdn,
        b.charge_type,
        b.description,
        b.amount,
        b.vat,
    from v_billing_attributed as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, b.msisdn))
      and ($msisdn is null or b.msisdn = $msisdn)
      and ($invoice_id is null or b.invoice_id = $invoice_id)
      and ($line_no is null or b.line_no = $line_no)
      and b.bill_period between $period_from and $period_to
),

final as (
    select
        invoice_id,
        line_no,
        bill_period,
        msisdn,
        charge_type,
        description,
        -- amounts to the cent, as a ticket records and shows them
        cast(round(amount, 2) as decimal(18, 2)) as amount,
        cast(round(vat, 2) as decimal(18, 2)) as vat,
    from billing
)

select * from final
order by bill_period desc, invoice_id, line_no
limit $limit
