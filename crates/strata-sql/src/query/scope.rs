//! The names a query can see — the stream's columns (bare or qualified), the system columns,
//! the joined table's `alias.col`, the window bounds — and the helpers every planning step
//! shares: where an AST node is, the "not supported; write … instead" error, type checks with
//! a location.

use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Location;

use crate::error::{Error, Result};
use crate::plan::{Expr, SourceDef, SqlType};
use crate::tokens::{plan_err, sql_err};
use crate::types::arrow_type;
use crate::typing::data_type;

/// The marker of placeholder columns (aggregates, window bounds) in first-pass expressions:
/// no SQL identifier can contain it.
pub(super) const PH: char = '\0';
/// The output column of a window's start.
pub(super) const WINDOW_START: &str = "window_start";
/// The output column of a window's end.
pub(super) const WINDOW_END: &str = "window_end";

pub(super) fn loc_of(e: &impl Spanned, fallback: Location) -> Location {
    let s = e.span().start;
    if s.line == 0 { fallback } else { s }
}

pub(super) fn unsupported(loc: Location, what: &str, instead: &str) -> Error {
    sql_err(loc, format!("{what} is not supported; {instead}"))
}

/// Where a name resolved to.
pub(super) enum Resolved {
    Column(String),
    WindowStart,
    WindowEnd,
    WindowTime,
}

/// The names a query can see.
pub(super) struct Scope {
    pub(super) stream: SourceDef,
    pub(super) stream_quals: Vec<String>,
    pub(super) table: Option<(SourceDef, String)>,
    pub(super) windowed: bool,
    /// The source-scope schema, for type checks.
    pub(super) schema: Schema,
}

const SYSTEM: [(&str, SqlType); 4] = [
    ("rowtime", SqlType::Timestamp),
    ("_partition", SqlType::BigInt),
    ("_offset", SqlType::BigInt),
    ("_key", SqlType::Varchar),
];

impl Scope {
    pub(super) fn new(
        stream: SourceDef,
        alias: Option<String>,
        table: Option<(SourceDef, String)>,
        windowed: bool,
    ) -> Scope {
        let mut fields: Vec<Field> = stream
            .columns
            .iter()
            .map(|c| Field::new(c.name.clone(), arrow_type(c.data_type), true))
            .collect();
        for (n, t) in SYSTEM {
            if !stream.columns.iter().any(|c| c.name == n) {
                fields.push(Field::new(n, arrow_type(t), true));
            }
        }
        if let Some((t, a)) = &table {
            for c in &t.columns {
                fields.push(Field::new(
                    format!("{a}.{}", c.name),
                    arrow_type(c.data_type),
                    true,
                ));
            }
        }
        let mut stream_quals = vec![stream.name.clone()];
        stream_quals.extend(alias);
        Scope {
            stream,
            stream_quals,
            table,
            windowed,
            schema: Schema::new(fields),
        }
    }

    pub(super) fn stream_has(&self, col: &str) -> bool {
        self.stream.columns.iter().any(|c| c.name == col) || SYSTEM.iter().any(|(n, _)| *n == col)
    }

    pub(super) fn window_name(&self, col: &str) -> Option<Resolved> {
        if !self.windowed {
            return None;
        }
        match col {
            "window_start" | "windowstart" => Some(Resolved::WindowStart),
            "window_end" | "windowend" => Some(Resolved::WindowEnd),
            "window_time" => Some(Resolved::WindowTime),
            _ => None,
        }
    }

    pub(super) fn resolve(&self, parts: &[ast::Ident], loc: Location) -> Result<Resolved> {
        let parts: Vec<String> = parts.iter().map(|p| p.value.to_lowercase()).collect();
        match parts.as_slice() {
            [col] => {
                let in_stream = self.stream_has(col);
                let in_table = self
                    .table
                    .as_ref()
                    .is_some_and(|(t, _)| t.columns.iter().any(|c| c.name == *col));
                match (in_stream, in_table) {
                    (true, true) => {
                        let a = self.table.as_ref().map_or("", |(_, a)| a.as_str());
                        Err(plan_err(
                            loc,
                            format!(
                                "column {col} is in both the stream and the table; write {}.{col} or {a}.{col}",
                                self.stream_quals.last().map_or("", |s| s.as_str())
                            ),
                        ))
                    }
                    (true, false) => Ok(Resolved::Column(col.clone())),
                    (false, true) => {
                        let a = self.table.as_ref().map_or("", |(_, a)| a.as_str());
                        Ok(Resolved::Column(format!("{a}.{col}")))
                    }
                    (false, false) => self.window_name(col).ok_or_else(|| self.unknown(col, loc)),
                }
            }
            [q, col] => {
                if self.stream_quals.contains(q) {
                    if self.stream_has(col) {
                        return Ok(Resolved::Column(col.clone()));
                    }
                    return self
                        .window_name(col)
                        .ok_or_else(|| self.unknown(&format!("{q}.{col}"), loc));
                }
                if let Some((t, a)) = &self.table
                    && (q == a || *q == t.name)
                {
                    if t.columns.iter().any(|c| c.name == *col) {
                        return Ok(Resolved::Column(format!("{a}.{col}")));
                    }
                    return Err(self.unknown(&format!("{q}.{col}"), loc));
                }
                Err(plan_err(
                    loc,
                    format!(
                        "unknown qualifier {q} in {q}.{col}; the query reads {}",
                        self.names()
                    ),
                ))
            }
            _ => Err(plan_err(
                loc,
                format!(
                    "cannot resolve {}; write column or alias.column",
                    parts.join(".")
                ),
            )),
        }
    }

    pub(super) fn names(&self) -> String {
        let mut s = self.stream_quals.join(" / ");
        if let Some((t, a)) = &self.table {
            s.push_str(&format!(" and {} / {a}", t.name));
        }
        s
    }

    pub(super) fn unknown(&self, col: &str, loc: Location) -> Error {
        let mut cols: Vec<String> = self.stream.columns.iter().map(|c| c.name.clone()).collect();
        if let Some((t, a)) = &self.table {
            cols.extend(t.columns.iter().map(|c| format!("{a}.{}", c.name)));
        }
        let extra = if self.windowed {
            ", window_start, window_end"
        } else {
            ""
        };
        plan_err(
            loc,
            format!(
                "unknown column {col}; available: {}, rowtime{extra}",
                cols.join(", ")
            ),
        )
    }
}

pub(super) fn type_label(t: &DataType) -> String {
    crate::types::sql_type(t).map_or_else(|| "NULL".to_string(), |_| crate::types::type_name(t))
}

/// Type-checks `e`, with the location in the message.
pub(super) fn check(e: &Expr, schema: &Schema, loc: Location) -> Result<DataType> {
    data_type(e, schema).map_err(|err| match err {
        Error::Plan(m) => plan_err(loc, m),
        Error::Unknown { kind, name } => plan_err(loc, format!("unknown {kind} {name}")),
        e => e,
    })
}
