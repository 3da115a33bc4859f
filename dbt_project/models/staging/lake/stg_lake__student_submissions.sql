-- depends_on: {{ ref('items') }}
{{ stg_submissions('student') }}
