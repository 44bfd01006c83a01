//! `bbpipe schema`: the tables' documentation, generated from their Arrow schemas.

use crate::cli::{SchemaArgs, SchemaFormat};
use bbpipe_pipeline::model::arrow::datatypes::{DataType, Field};
use bbpipe_pipeline::model::{DESCRIPTION_KEY, Granularity, SCHEMA_VERSION, Table};
use serde_json::json;

pub fn print(args: &SchemaArgs) -> anyhow::Result<()> {
    match args.format {
        SchemaFormat::Markdown => print!("{}", markdown()),
        SchemaFormat::Json => println!("{}", serde_json::to_string_pretty(&as_json())?),
    }
    Ok(())
}

/// The type as a warehouse user reads it.
fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 => "string".into(),
        DataType::Int64 => "int64".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Timestamp(_, Some(tz)) => format!("timestamp(us, {tz})"),
        other => other.to_string(),
    }
}

fn description(field: &Field) -> &str {
    field
        .metadata()
        .get(DESCRIPTION_KEY)
        .map_or("", String::as_str)
}

/// Partition levels: name, type, description (the date level as in a dataset partitioned by
/// month, the default; the description gives the level of one partitioned by day).
fn partitions(table: Table) -> Vec<(&'static str, &'static str, String)> {
    let mut levels = vec![("workspace", "string", "Workspace slug.".to_string())];
    if let Some(date) = table.date_partition() {
        levels.push((
            date.level(Granularity::Month),
            "string",
            format!(
                "UTC month of {}, `YYYY-MM`. In a dataset partitioned by day \
                 (`--partition-by day`) the level is `{}`, the UTC date of {} (`YYYY-MM-DD`, a \
                 date).",
                date.column,
                date.level(Granularity::Day),
                date.column
            ),
        ));
    }
    levels
}

pub fn markdown() -> String {
    let mut out = format!("Schema version {SCHEMA_VERSION}.\n");
    for &table in Table::ALL {
        let levels: Vec<String> = partitions(table)
            .iter()
            .map(|(name, _, _)| format!("{name}=…"))
            .collect();
        out.push_str(&format!(
            "\n#### `{}`\n\n{} Path: `{}/{}/part-*.parquet`. Key: {}.\n\n",
            table.name(),
            table.description(),
            table.name(),
            levels.join("/"),
            table.key_columns().join(" + "),
        ));
        out.push_str("| column | type | nullable | description |\n|---|---|---|---|\n");
        for (name, kind, text) in partitions(table) {
            out.push_str(&format!(
                "| `{name}` | {kind} | no | Partition (path only). {text} |\n"
            ));
        }
        for field in table
            .schema()
            .fields()
            .iter()
            .filter(|f| f.name() != "workspace")
        {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                field.name(),
                type_name(field.data_type()),
                if field.is_nullable() { "yes" } else { "no" },
                description(field).replace('|', "\\|"),
            ));
        }
    }
    out
}

fn as_json() -> serde_json::Value {
    let tables: Vec<_> = Table::ALL
        .iter()
        .map(|&table| {
            let columns: Vec<_> = table
                .schema()
                .fields()
                .iter()
                .filter(|f| f.name() != "workspace")
                .map(|f| {
                    json!({
                        "name": f.name(),
                        "type": type_name(f.data_type()),
                        "nullable": f.is_nullable(),
                        "description": description(f),
                    })
                })
                .collect();
            let partitions: Vec<_> = partitions(table)
                .into_iter()
                .map(|(name, kind, text)| json!({"name": name, "type": kind, "description": text}))
                .collect();
            json!({
                "name": table.name(),
                "description": table.description(),
                "key": table.key_columns(),
                "partitions": partitions,
                "columns": columns,
            })
        })
        .collect();
    json!({ "schema_version": SCHEMA_VERSION, "tables": tables })
}
