{#
  Where a bbpipe table is read from: the dataset's files under var('bbpipe_path') (DuckDB's
  read_parquet with the Hive partitions, or delta_scan), or the source of that name. A table
  the dataset does not have (no deployment rule yet, no --with steps or commits) is an empty
  relation of the columns `columns` names, so the marts build, empty.
#}
{% macro bbpipe_table(name, columns) %}
  {%- set path = var('bbpipe_path', none) -%}
  {%- if path is none -%}
    {{ source('bbpipe', name) }}
  {%- elif not bbpipe.dataset_has(path, name) -%}
    (select {% for column, type in columns.items() %}cast(null as {{ type }}) as {{ column }}{{ ", " if not loop.last }}{% endfor %} where 1 = 0)
  {%- elif var('bbpipe_format', 'parquet') == 'delta' -%}
    delta_scan('{{ path }}/{{ name }}')
  {%- else -%}
    read_parquet('{{ path }}/{{ name }}/**/*.parquet', hive_partitioning = true, union_by_name = true)
  {%- endif -%}
{% endmacro %}

{# Whether the dataset at `path` holds files of table `name` (asked of the warehouse). #}
{% macro dataset_has(path, name) %}
  {%- if not execute -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set pattern = path ~ "/" ~ name ~ "/**/*.parquet" -%}
  {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
  {{ return(found.columns[0].values()[0] > 0) }}
{% endmacro %}

{% macro load_duckdb_extensions() %}
  {%- for extension in var('bbpipe_duckdb_extensions', []) -%}
    load '{{ extension }}';
  {%- endfor -%}
{% endmacro %}
