{#
  What warehouses spell differently, dispatched by adapter. Percentiles interpolate linearly
  between ranks, as `bbpipe report` computes them (DuckDB's quantile_cont); BigQuery and Trino
  have approximate percentiles only, so their p50 and p90 can differ slightly.
#}

{% macro percentile(expression, fraction) %}
  {{ return(adapter.dispatch('percentile', 'bbpipe')(expression, fraction)) }}
{% endmacro %}

{% macro default__percentile(expression, fraction) -%}
  percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile(expression, fraction) -%}
  quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile(expression, fraction) -%}
  percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro databricks__percentile(expression, fraction) -%}
  percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro trino__percentile(expression, fraction) -%}
  approx_percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro bigquery__percentile(expression, fraction) -%}
  approx_quantiles({{ expression }}, 100)[offset({{ (fraction * 100) | int }})]
{%- endmacro %}

{# The Monday (UTC) starting the ISO week of a UTC timestamp, as a date. #}
{% macro week_start(timestamp) %}
  {{ return(adapter.dispatch('week_start', 'bbpipe')(timestamp)) }}
{% endmacro %}

{% macro default__week_start(timestamp) -%}
  cast({{ dbt.date_trunc('week', timestamp) }} as date)
{%- endmacro %}

{% macro bigquery__week_start(timestamp) -%}
  date_trunc(date({{ timestamp }}), isoweek)
{%- endmacro %}

{#
  A timestamp with time zone as the UTC wall-clock time: the week a deployment falls in does
  not depend on the session's time zone.
#}
{% macro utc(timestamp) %}
  {{ return(adapter.dispatch('utc', 'bbpipe')(timestamp)) }}
{% endmacro %}

{% macro default__utc(timestamp) -%}
  {{ timestamp }}
{%- endmacro %}

{% macro duckdb__utc(timestamp) -%}
  timezone('UTC', {{ timestamp }})
{%- endmacro %}

{% macro snowflake__utc(timestamp) -%}
  convert_timezone('UTC', {{ timestamp }})::timestamp_ntz
{%- endmacro %}

{% macro postgres__utc(timestamp) -%}
  ({{ timestamp }} at time zone 'UTC')
{%- endmacro %}

{# A 64-bit float (dbt's type_float is 32 bits on some adapters: rates would lose digits). #}
{% macro type_double() %}
  {{ return(adapter.dispatch('type_double', 'bbpipe')()) }}
{% endmacro %}

{% macro default__type_double() -%} double {%- endmacro %}

{% macro postgres__type_double() -%} double precision {%- endmacro %}

{% macro bigquery__type_double() -%} float64 {%- endmacro %}
