-- Grain: one row per validated submission of any instrument (item columns dropped).
with teacher as (
    select {{ submission_columns() }} from {{ ref('stg_lake__teacher_submissions') }}
),

student as (
    select {{ submission_columns() }} from {{ ref('stg_lake__student_submissions') }}
)

select * from teacher
union all by name
select * from student
