-- The reasons of one load's rejected rows, grouped by kind of fault and counted, most common
-- first: a reason with its quoted values and line numbers left out names the kind.
-- Grain: one row per kind of reason.
-- Parameters: $load_id, $limit (how many kinds at most).
with rejects as (
    select reason
    from etl_rejects
    where load_id = $load_id
),

kinds as (
    select
        regexp_replace(
            regexp_replace(reason, '''[^'']*''', '<value>', 'g'), 'line [0-9]+', 'line <n>', 'g'
        ) as why,
    from rejects
),

final as (
    select
        why,
        count(*) as n,
    from kinds
    group by why
)

select * from final
order by n desc, why
limit $limit
