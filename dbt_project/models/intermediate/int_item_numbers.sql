{{ config(materialized='table') }}
-- A table, not a view: DuckDB then knows it is ~60 rows, and joins the response rows to it before
-- anything larger (as a view, int_classroom_item_sums hashed the 25 M response rows to probe them with
-- the 1.1 M classroom rows: 3.8-4.0 -> 6.0-7.2 s alone at a million submissions; 2.6-2.8 s with the table).
-- Grain: one row per item of an instrument (items.csv), with the item's number, item_no: 1, 2, ... in
-- the order of instrument and item id, the one definition of it. The long form (int_responses_unpivoted)
-- stores an item as this number, not as its instrument and item id: those two text columns on each of
-- its ~25 rows a submission were ~2.4 s of its ~8.7 s at a million submissions (BENCHMARKS.md); the
-- models that read it join this table for the item's instrument and id, and items.csv on those.
-- The numbers change only when the items do, and then every partition is rebuilt (a change to the
-- instrument definition changes the warehouse's fingerprint, leap.orchestration.freshness).
select cast(row_number() over (order by instrument, item_id) as smallint) as item_no, instrument, item_id
from (select distinct instrument, item_id from {{ ref('items') }})
