-- Grain: one row per benchmark version x instrument x term x grade band x measure x measure id.
-- The national benchmark a school is compared with: the weighted national sample of the version's
-- reference school year, frozen. Later years never move it; re-benchmarking is a new row in
-- benchmarks.csv (a new version), and a report names the version it used. Measures: item_top_box (the
-- item's top-box percent, measure_id = item_id) and scale_mean (mean scaled score, measure_id = the
-- component), each with its SE (schools as PSUs), design df and the n behind it. The current version
-- is the one adopted last. The two measures are built apart (macro national_benchmark_rows): the
-- school item marts read the item part only, so new scores do not rebuild them.
select * from {{ ref('int_national_item_benchmarks') }}
union all
select * from {{ ref('int_national_scale_benchmarks') }}
