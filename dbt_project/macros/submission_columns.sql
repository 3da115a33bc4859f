{#- The instrument-independent columns of a staged submission. -#}
{% macro submission_columns() -%}
    submission_id, instrument, instrument_version, school_id, respondent_key, school_year, term,
    submitted_at, grade_band, sample, region, urbanicity, grade, gender, race_ethnicity,
    parent_education, classroom_ids, external_weight, duration_seconds, kafka_partition, kafka_offset, ingested_at
{%- endmacro %}
