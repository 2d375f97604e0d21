-- The tenant the demo's users belong to: the first by id. Grain: one row (NULL when no tenants).
-- Parameters: none.
select min(t.tenant_id) as tenant_id
from dim_tenant as t
