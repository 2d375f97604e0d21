-- The display name of a tenant. Grain: one row (or none).
-- Parameters: $tenant_id.
select t.name as tenant_name
from dim_tenant as t
where t.tenant_id = $tenant_id
