//! The Rust way to declare a view: a builder that produces the same [`ViewPlan`] the SQL
//! front end does.
//!
//! ```
//! use strata_engine::builder::{ViewBuilder, col};
//! use strata_engine::plan::{AggregateFunction, ColumnDef, SourceDef, SqlType, WindowSpec};
//! # let source = SourceDef { name: "clicks".into(), topic: "clicks".into(), kind: Default::default(),
//! #   columns: vec![ColumnDef { name: "page".into(), data_type: SqlType::Varchar }],
//! #   format: Default::default(), timestamp_column: None, watermark_delay_ms: None,
//! #   primary_key: None, properties: vec![], proctime_column: None };
//! let plan = ViewBuilder::new("views_per_page", source)
//!     .window(WindowSpec::Tumbling { size_ms: 60_000 })
//!     .group_by("page", col("page"))
//!     .aggregate("views", AggregateFunction::Count, None)
//!     .build();
//! assert_eq!(plan.output.len(), 4); // page, window_start, window_end, views
//! ```

use crate::operator::{WINDOW_END, WINDOW_START};
use crate::plan::{
    AggregateDef, AggregateFunction, EmitMode, Expr, SourceDef, ViewPlan, WindowSpec,
};

/// A column reference.
pub fn col(name: &str) -> Expr {
    Expr::Column(name.to_lowercase())
}

/// Builds a [`ViewPlan`].
#[derive(Debug, Clone)]
pub struct ViewBuilder {
    plan: ViewPlan,
    extra_output: Option<Vec<(String, Expr)>>,
}

impl ViewBuilder {
    /// A view named `name` over `source`.
    pub fn new(name: &str, source: SourceDef) -> Self {
        ViewBuilder {
            plan: ViewPlan {
                name: name.to_lowercase(),
                source,
                source_alias: None,
                join: None,
                filter: None,
                window: None,
                grace_ms: 0,
                group_by: Vec::new(),
                aggregates: Vec::new(),
                having: None,
                output: Vec::new(),
                emit: EmitMode::Changes,
                serving: crate::plan::ServingMode::default(),
                rank: None,
                unnest: None,
                sink: None,
            },
            extra_output: None,
        }
    }

    /// `WHERE`.
    #[must_use]
    pub fn filter(mut self, predicate: Expr) -> Self {
        self.plan.filter = Some(predicate);
        self
    }

    /// The window.
    #[must_use]
    pub fn window(mut self, spec: WindowSpec) -> Self {
        self.plan.window = Some(spec);
        self
    }

    /// `GRACE PERIOD`.
    #[must_use]
    pub fn grace_ms(mut self, ms: i64) -> Self {
        self.plan.grace_ms = ms;
        self
    }

    /// A group key.
    #[must_use]
    pub fn group_by(mut self, name: &str, key: Expr) -> Self {
        self.plan.group_by.push((name.to_lowercase(), key));
        self
    }

    /// An aggregate, output under `name`.
    #[must_use]
    pub fn aggregate(mut self, name: &str, function: AggregateFunction, arg: Option<Expr>) -> Self {
        self.plan.aggregates.push(AggregateDef {
            function,
            arg,
            name: name.to_lowercase(),
        });
        self
    }

    /// `HAVING`, over the output scope.
    #[must_use]
    pub fn having(mut self, predicate: Expr) -> Self {
        self.plan.having = Some(predicate);
        self
    }

    /// Replaces the default output (keys, window bounds, aggregates) with these columns.
    #[must_use]
    pub fn output(mut self, columns: Vec<(String, Expr)>) -> Self {
        self.extra_output = Some(columns);
        self
    }

    /// `EMIT FINAL` or `EMIT CHANGES`.
    #[must_use]
    pub fn emit(mut self, mode: EmitMode) -> Self {
        self.plan.emit = mode;
        self
    }

    /// The plan.
    pub fn build(mut self) -> ViewPlan {
        self.plan.output = match self.extra_output {
            Some(columns) => columns,
            None => {
                let mut out: Vec<(String, Expr)> = self
                    .plan
                    .group_by
                    .iter()
                    .map(|(n, _)| (n.clone(), col(n)))
                    .collect();
                if self.plan.window.is_some() {
                    out.push((WINDOW_START.into(), col(WINDOW_START)));
                    out.push((WINDOW_END.into(), col(WINDOW_END)));
                }
                out.extend(
                    self.plan
                        .aggregates
                        .iter()
                        .map(|a| (a.name.clone(), col(&a.name))),
                );
                out
            }
        };
        self.plan
    }
}
