-- The bill periods of the whole customer base, oldest first (no tenant, line or person in it).
-- Grain: one row per bill period. Parameters: $scope_min_lines (periods with fewer lines hidden).
with final as (
    select
        b.bill_period,
    from fct_billing as b
    group by b.bill_period
    having count(distinct b.msisdn) >= $scope_min_lines
)

select * from final
order by bill_period
