{{ config(materialized='table') }}
-- A table, not a view: DuckDB then knows it is ~60 rows, and joins larger relations to it.
-- Grain: one row per item of an instrument (items.csv), with the item's number, item_no: 1, 2, ... in
-- the order of instrument and item id, the one definition of it. The long form (int_responses_unpivoted)
-- and the response sums number an item with it, not with its instrument and item id (two text columns
-- on each of ~25 M response rows at a million submissions); their readers join this table for the
-- item's instrument and id, and items.csv on those.
-- The numbers change only when the items do, and then every partition is rebuilt (a change to the
-- instrument definition changes the warehouse's fingerprint, leap.orchestration.freshness).
select cast(row_number() over (order by instrument, item_id) as smallint) as item_no, instrument, item_id
from (select distinct instrument, item_id from {{ ref('items') }})
