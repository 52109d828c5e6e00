//! The serializable plan of a view: what the SQL front end (and the Rust builder) produce and
//! what both drivers run. A plan is plain data — serde round-trips it, the catalog stores it,
//! and a changed definition is simply another plan.

use serde::{Deserialize, Serialize};

pub use crate::sink::SinkDef;

/// A SQL column type, as strata stores and computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlType {
    /// `BOOLEAN`.
    Boolean,
    /// `INT`, `INTEGER`, `BIGINT`, `SMALLINT`, `TINYINT`: all held as 64-bit integers.
    BigInt,
    /// `DOUBLE`, `FLOAT`, `REAL`, `DECIMAL`: held as 64-bit floats.
    Double,
    /// `VARCHAR`, `STRING`, `TEXT`.
    Varchar,
    /// `TIMESTAMP`, `TIMESTAMP(3)`: milliseconds since the Unix epoch, UTC. JSON may give it as
    /// epoch millis, RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]`.
    Timestamp,
    /// `ARRAY<t>` of a scalar type (`ARRAY<VARCHAR>`): a JSON array in a value, or what
    /// `SPLIT` returns; `EXPLODE`/`UNNEST` turn it into rows.
    Array(ScalarType),
}

/// The element type of an `ARRAY<…>`: one of the scalar SQL types (arrays do not nest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarType {
    /// `BOOLEAN`.
    Boolean,
    /// `BIGINT`.
    BigInt,
    /// `DOUBLE`.
    Double,
    /// `VARCHAR`.
    Varchar,
    /// `TIMESTAMP`.
    Timestamp,
}

impl ScalarType {
    /// The SQL type of one element.
    pub fn sql(self) -> SqlType {
        match self {
            ScalarType::Boolean => SqlType::Boolean,
            ScalarType::BigInt => SqlType::BigInt,
            ScalarType::Double => SqlType::Double,
            ScalarType::Varchar => SqlType::Varchar,
            ScalarType::Timestamp => SqlType::Timestamp,
        }
    }

    /// The element type of `t`, when `t` is scalar (`None` for an array).
    pub fn of(t: SqlType) -> Option<ScalarType> {
        Some(match t {
            SqlType::Boolean => ScalarType::Boolean,
            SqlType::BigInt => ScalarType::BigInt,
            SqlType::Double => ScalarType::Double,
            SqlType::Varchar => ScalarType::Varchar,
            SqlType::Timestamp => ScalarType::Timestamp,
            SqlType::Array(_) => return None,
        })
    }
}

/// A column of a source schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// Column name, lower-cased (SQL identifiers are case-insensitive unless quoted).
    pub name: String,
    /// Its type.
    pub data_type: SqlType,
}

/// How a source topic's record values are encoded (ksqlDB's `value_format`, Flink's
/// `'format'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    /// One JSON object per record value, a field per column.
    #[default]
    Json,
    /// ksqlDB `value_format='JSON'` with `wrap_single_value=false`: the value is the bare JSON
    /// value (`"text"`, `42`, `[…]`) of the source's single column.
    JsonUnwrapped,
    /// ksqlDB `value_format='KAFKA'`, Flink `'format'='raw'`: the whole value is the single
    /// column — UTF-8 text for VARCHAR, a number as text (or Kafka's 8-byte big-endian
    /// serialization) for BIGINT and DOUBLE.
    Kafka,
    /// ksqlDB `value_format='DELIMITED'`, Flink `'format'='csv'`: one field per column, in
    /// declaration order, separated by `delimiter`; `"…"` quotes a field (`""` is a quote).
    Delimited {
        /// The field separator (`,` unless `value_delimiter` / `'csv.field-delimiter'` say).
        delimiter: char,
    },
}

/// How record keys are encoded (ksqlDB's `key_format`): what a source's `KEY` or `PRIMARY
/// KEY` column is read from, and how a named output writes its rows' keys (`SinkDef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// The key's bytes are the key column's value: UTF-8 text (read: a number as text, or
    /// Kafka's 8-byte big-endian form, for BIGINT and DOUBLE; written: a string as its UTF-8
    /// bytes, a BIGINT or TIMESTAMP as 8 big-endian bytes, a DOUBLE as its IEEE bytes, as
    /// Kafka's serializers write them). ksqlDB's default.
    #[default]
    Kafka,
    /// The key is JSON: read, the key column's bare value (`"k"`, `42`) or an object
    /// holding it by name (as strata's changelogs key their rows); written, an object of the
    /// key columns (`{"word":"a"}`; windowed: with `window_start`).
    Json,
    /// No key: not read (key columns come from the value), not written (ksqlDB's `NONE`).
    None,
}

impl KeyFormat {
    /// The key format a `key_format` / `'key.format'` property names (`raw` is Flink's name
    /// for KAFKA); KAFKA when absent.
    pub fn from_property(value: Option<&str>) -> KeyFormat {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("json") => KeyFormat::Json,
            Some("none") => KeyFormat::None,
            _ => KeyFormat::Kafka,
        }
    }
}

/// Whether a source is an unbounded stream of events or a table (latest value per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Every record is an event (ksqlDB `CREATE STREAM`, Flink `CREATE TABLE` on a Kafka topic).
    #[default]
    Stream,
    /// Each record upserts the row of its primary key (ksqlDB `CREATE TABLE … PRIMARY KEY`).
    Table,
}

/// A schema bound to a topic: what `CREATE STREAM` / `CREATE TABLE … WITH (…)` declare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDef {
    /// The name SQL refers to it by (lower-cased).
    pub name: String,
    /// The topic holding its records.
    pub topic: String,
    /// Stream or table.
    pub kind: SourceKind,
    /// Value columns, in declaration order.
    pub columns: Vec<ColumnDef>,
    /// Value encoding.
    pub format: ValueFormat,
    /// The event-time column; `None` means the record's own timestamp (ksqlDB's `ROWTIME`).
    pub timestamp_column: Option<String>,
    /// Bounded out-of-orderness of event time (Flink's `WATERMARK FOR t AS t - INTERVAL …`);
    /// `None` uses the engine's default.
    pub watermark_delay_ms: Option<u64>,
    /// The primary-key column of a table source, or the `KEY` column of a stream (ksqlDB's
    /// `id VARCHAR KEY`): read from the record key (decoded by [`SourceDef::key_format`]),
    /// from the value when a record has no key.
    pub primary_key: Option<String>,
    /// `WITH (…)` properties as given (lower-cased keys), kept for `DESCRIBE`.
    pub properties: Vec<(String, String)>,
    /// Flink's processing-time attribute (`pt AS PROCTIME()`): a TIMESTAMP column of
    /// `columns` that decoding fills with the wall-clock time the record is read, never from
    /// the record. Absent from catalogs written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proctime_column: Option<String>,
}

/// A builder's way to declare a source in Rust (tests, benchmarks, the Rust view builder):
/// `SourceDef::stream("clicks").column("page", SqlType::Varchar).event_time("ts")`.
impl SourceDef {
    /// A JSON stream named `name` over the topic of the same name, with no columns yet.
    pub fn stream(name: &str) -> SourceDef {
        SourceDef {
            name: name.to_lowercase(),
            topic: name.to_owned(),
            kind: SourceKind::Stream,
            columns: Vec::new(),
            format: ValueFormat::Json,
            timestamp_column: None,
            watermark_delay_ms: None,
            primary_key: None,
            properties: Vec::new(),
            proctime_column: None,
        }
    }

    /// A JSON table named `name` over the topic of the same name, keyed by `primary_key`.
    pub fn table(name: &str, primary_key: &str) -> SourceDef {
        SourceDef {
            kind: SourceKind::Table,
            primary_key: Some(primary_key.to_lowercase()),
            ..SourceDef::stream(name)
        }
    }

    /// Reads topic `topic` instead.
    pub fn topic(mut self, topic: &str) -> SourceDef {
        self.topic = topic.to_owned();
        self
    }

    /// Adds a column.
    pub fn column(mut self, name: &str, data_type: SqlType) -> SourceDef {
        self.columns.push(ColumnDef {
            name: name.to_lowercase(),
            data_type,
        });
        self
    }

    /// Takes event time from `column` (a TIMESTAMP or epoch-millisecond BIGINT column).
    pub fn event_time(mut self, column: &str) -> SourceDef {
        self.timestamp_column = Some(column.to_lowercase());
        self
    }

    /// Reads values in `format`.
    pub fn format(mut self, format: ValueFormat) -> SourceDef {
        self.format = format;
        self
    }

    /// How the record key is encoded: the `key_format` (ksqlDB) or `'key.format'` (Flink)
    /// property, validated by the parser; KAFKA when neither is given. Kept among the
    /// properties rather than in a field of its own so that a source definition stored before
    /// key formats existed reads the same.
    pub fn key_format(&self) -> KeyFormat {
        KeyFormat::from_property(
            self.properties
                .iter()
                .find(|(k, _)| k == "key_format" || k == "key.format")
                .map(|(_, v)| v.as_str()),
        )
    }

    /// Bounds the watermark's out-of-orderness to `delay_ms`.
    pub fn watermark_delay_ms(mut self, delay_ms: u64) -> SourceDef {
        self.watermark_delay_ms = Some(delay_ms);
        self
    }
}

/// A literal value in an expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Literal {
    /// `NULL`.
    Null,
    /// `TRUE` / `FALSE`.
    Boolean(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A time interval in milliseconds (`INTERVAL '5' SECOND`).
    IntervalMs(i64),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Multiply,
    /// `/` (integer division on integers, as in SQL)
    Divide,
    /// `%`
    Modulo,
    /// `=`
    Eq,
    /// `<>`, `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `||` string concatenation
    Concat,
    /// `LIKE`
    Like,
    /// `NOT LIKE`
    NotLike,
}

/// A scalar expression over the columns of its input.
///
/// Column names resolve against the input of the operator that evaluates the expression:
/// source columns (plus `rowtime`, the record timestamp, and `_partition`, `_offset`,
/// `_key`) for WHERE and GROUP BY; group names, `window_start`, `window_end` and aggregate
/// outputs for the final projection and HAVING.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A column by (lower-case) name.
    Column(String),
    /// A constant.
    Literal(Literal),
    /// `left op right`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `NOT e`.
    Not(Box<Expr>),
    /// `-e`.
    Negate(Box<Expr>),
    /// `e IS NULL` (`negated`: `IS NOT NULL`).
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `e [NOT] IN (list)`.
    InList {
        /// The operand.
        expr: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `e [NOT] BETWEEN low AND high`.
    Between {
        /// The operand.
        expr: Box<Expr>,
        /// Lower bound, inclusive.
        low: Box<Expr>,
        /// Upper bound, inclusive.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    Case {
        /// `CASE x WHEN …` compares `x`; `None` for searched `CASE WHEN cond …`.
        operand: Option<Box<Expr>>,
        /// `(WHEN, THEN)` pairs in order.
        branches: Vec<(Expr, Expr)>,
        /// `ELSE`; `NULL` when absent.
        otherwise: Option<Box<Expr>>,
    },
    /// `CAST(e AS type)`.
    Cast {
        /// The operand.
        expr: Box<Expr>,
        /// Target type.
        to: SqlType,
    },
    /// A scalar function call (`UPPER(x)`, `ABS(x)`, `COALESCE(a, b)`, …), name lower-cased.
    Function {
        /// Function name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
}

/// Aggregate functions. All are mergeable: partial results from any split of the input
/// combine into the result over the whole input, which is what lets the batch and speed
/// layers' results add up exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateFunction {
    /// `COUNT(*)` (no argument) or `COUNT(x)` (non-null x).
    Count,
    /// `SUM(x)`.
    Sum,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `AVG(x)`.
    Avg,
    /// `COUNT(DISTINCT x)`, exact.
    CountDistinct,
    /// `APPROX_COUNT_DISTINCT(x)`, a HyperLogLog sketch.
    ApproxCountDistinct,
    /// `EARLIEST_BY_OFFSET(x)` / `FIRST_VALUE(x)`: the value first in log order.
    Earliest,
    /// `LATEST_BY_OFFSET(x)` / `LAST_VALUE(x)`: the value last in log order.
    Latest,
}

/// One aggregate of a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateDef {
    /// The function.
    pub function: AggregateFunction,
    /// Its argument; `None` only for `COUNT(*)`.
    pub arg: Option<Expr>,
    /// The internal name the final projection refers to (e.g. `agg0`).
    pub name: String,
}

/// An event-time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowSpec {
    /// Fixed-size, non-overlapping windows aligned to the epoch.
    Tumbling {
        /// Window length (ms).
        size_ms: i64,
    },
    /// Fixed-size windows starting every `advance_ms` (Flink `HOP`, ksqlDB `HOPPING`).
    Hopping {
        /// Window length (ms).
        size_ms: i64,
        /// Distance between window starts (ms).
        advance_ms: i64,
    },
    /// Per-key windows that close after `gap_ms` without events.
    Session {
        /// Inactivity gap (ms).
        gap_ms: i64,
    },
}

/// When results are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmitMode {
    /// Every update of a row, each micro-batch (ksqlDB `EMIT CHANGES`).
    #[default]
    Changes,
    /// Once per window, when the watermark passes its end plus the grace period.
    Final,
}

/// A stream–table join: each stream record looks up the table's current row by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinDef {
    /// The table source.
    pub table: SourceDef,
    /// The table's alias in the query (lower-cased), its columns are `alias.column`.
    pub alias: String,
    /// The stream-side key expression (over stream columns).
    pub stream_key: Expr,
    /// `LEFT JOIN` keeps stream records without a table row (NULL columns).
    pub left: bool,
}

/// A compiled view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewPlan {
    /// The view's name (lower-cased).
    pub name: String,
    /// The stream it reads.
    pub source: SourceDef,
    /// The stream's alias in the query (lower-cased), if any.
    pub source_alias: Option<String>,
    /// An optional stream–table join applied before the filter.
    pub join: Option<JoinDef>,
    /// `WHERE`, over source (and joined table) columns.
    pub filter: Option<Expr>,
    /// The window, if the view is windowed.
    pub window: Option<WindowSpec>,
    /// Allowed lateness after a window's end (ms), ksqlDB's `GRACE PERIOD`.
    pub grace_ms: i64,
    /// Group keys: output name and expression over source columns. Empty with no aggregates
    /// means a stateless view (filter and projection only).
    pub group_by: Vec<(String, Expr)>,
    /// Aggregates computed per (group, window).
    pub aggregates: Vec<AggregateDef>,
    /// `HAVING`, over the output scope (group names, `window_start`, `window_end`, aggregate
    /// names).
    pub having: Option<Expr>,
    /// The output columns: name and expression. For an aggregating view the expressions are
    /// over the output scope; for a stateless view, over source columns.
    pub output: Vec<(String, Expr)>,
    /// When results are emitted.
    pub emit: EmitMode,
    /// How the serving layer answers queries of the view.
    #[serde(default)]
    pub serving: ServingMode,
    /// A window Top-N over the rows this plan produces (Flink's `ROW_NUMBER()/RANK() OVER
    /// (PARTITION BY window_start, window_end …) … WHERE rk <= N`); `None` for other views.
    /// Absent from catalogs written before Top-N views existed.
    #[serde(default)]
    pub rank: Option<RankSpec>,
    /// A table function applied to each input row before the filter (ksqlDB `EXPLODE`,
    /// Flink `CROSS JOIN UNNEST` / `LATERAL TABLE`): one row per element of an array; `None`
    /// for other views. Absent from catalogs written before table functions existed.
    #[serde(default)]
    pub unnest: Option<UnnestDef>,
    /// A named output topic the view's rows also go to (`WITH (kafka_topic=…) AS`,
    /// `INSERT INTO`); left out of the plan's JSON when absent, so checkpoints of views
    /// without one still match their plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<SinkDef>,
}

/// One row per element of an array: the input row repeated, with the element as a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnnestDef {
    /// The array, over source (and joined table) columns.
    pub array: Expr,
    /// The name of the element column the rest of the plan reads (lower-cased).
    pub column: String,
}

/// How ranks count ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankKind {
    /// `RANK()`: equal values share a rank; every row ranked N or better is kept.
    Rank,
    /// `ROW_NUMBER()`: exactly N rows per window, ties by arrival.
    RowNumber,
}

/// The ranking part of a window Top-N view: which rows of each window are kept, applied to
/// the closed groups of a windowed aggregation or to the rows of a stream (assigned to
/// `window`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankSpec {
    /// The window (of the aggregation, or assigned to the rows).
    pub window: WindowSpec,
    /// The column ranked by.
    pub order_by: String,
    /// Highest first.
    pub descending: bool,
    /// Keep ranks `1..=limit`.
    pub limit: usize,
    /// How ties rank.
    pub kind: RankKind,
    /// The rank column's name (output when selected).
    pub rank_column: String,
    /// The output columns; `*` means every column of the ranked rows.
    pub output: Vec<String>,
}

/// How a view is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServingMode {
    /// Batch view ⊕ the speed layer's partials of what the batch view has not covered yet:
    /// exact, late records included, once a batch run has covered them.
    #[default]
    Lambda,
    /// The speed layer alone (Kreps's Kappa architecture): what the streaming view computed.
    Kappa,
}

impl ViewPlan {
    /// True when the view aggregates (it has state); false for filter/projection views.
    pub fn is_aggregating(&self) -> bool {
        !self.aggregates.is_empty() || !self.group_by.is_empty()
    }

    /// True when queries merge a batch view with speed-layer partials: an aggregating view
    /// declared `lambda` (the default) that a batch run can recompute — a stream–table join
    /// looks the table up at processing time, which a recomputation cannot reproduce, and a
    /// view reading a table needs upsert semantics the batch layer does not have (its lake
    /// sets tombstones aside), so both are served by the speed layer alone (Kappa); so is a
    /// window Top-N ([`ViewPlan::is_ranked`]).
    pub fn merges_batch(&self) -> bool {
        self.serving == ServingMode::Lambda
            && !self.on_processing_time()
            && self.is_aggregating()
            && self.join.is_none()
            && !self.reads_table()
            && !self.is_ranked()
    }

    /// True when the view's time is processing time (its event-time column is the source's
    /// `PROCTIME()` column): what it computes depends on when records were read, which a batch
    /// recomputation cannot reproduce, so it is served by the speed layer alone.
    pub fn on_processing_time(&self) -> bool {
        self.source.proctime_column.is_some()
            && self.source.timestamp_column == self.source.proctime_column
    }

    /// True for a window Top-N view: served by the speed layer alone, as the batch layer
    /// does not rank (its merge adds partial aggregates, which a ranking is not).
    pub fn is_ranked(&self) -> bool {
        self.rank.is_some()
    }

    /// True when the view's driving input is a table (ksqlDB `SELECT … FROM a_table`):
    /// records upsert the row of their key and the view retracts what a row replaces.
    pub fn reads_table(&self) -> bool {
        self.source.kind == SourceKind::Table
    }
}

/// One statement of the SQL dialect, compiled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statement {
    /// `CREATE STREAM … WITH (…)` or `CREATE TABLE … WITH (…)`: bind a schema to a topic.
    CreateSource {
        /// The source.
        source: SourceDef,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `CREATE TABLE v AS SELECT …`, `CREATE VIEW v AS SELECT …`, `CREATE STREAM v AS SELECT …`:
    /// a materialized, continuously maintained view.
    CreateView {
        /// The view.
        plan: ViewPlan,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// A push query (`SELECT … [EMIT CHANGES]`): a continuous query whose results stream back
    /// to the client.
    Query(ViewPlan),
    /// `SELECT … EMIT CHANGES LIMIT n`: a push query that ends after `limit` rows.
    LimitedQuery {
        /// The query.
        plan: ViewPlan,
        /// Rows to send before the query ends.
        limit: u64,
    },
    /// `SELECT … FROM table_or_view …` without `EMIT`: answered once, from current rows.
    PullQuery(Box<PullQuery>),
    /// `INSERT INTO target SELECT …`: a running query writing into `target`'s topic (its
    /// plan's [`SinkDef`]).
    Insert {
        /// The stream (or Flink sink table) written into, as the catalog declares it.
        target: SourceDef,
        /// The query; its name is given when it starts.
        plan: Box<ViewPlan>,
    },
    /// `DROP VIEW|TABLE|STREAM name [DELETE TOPIC]`.
    Drop {
        /// The name.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `DELETE TOPIC`: a source's topic goes too.
        #[serde(default)]
        delete_topic: bool,
    },
    /// `SHOW STREAMS|TABLES|VIEWS|SOURCES|QUERIES|TOPICS`.
    Show(crate::commands::ShowKind),
    /// `DESCRIBE [EXTENDED] name`.
    Describe {
        /// The stream, table or view.
        name: String,
        /// `EXTENDED`: with statistics.
        extended: bool,
    },
    /// `PRINT topic …`: the topic's raw records, streamed.
    Print(crate::commands::PrintSpec),
    /// `SET 'property' = 'value'`: for the statements after it in the same request.
    Set {
        /// The property (one of [`crate::commands::SESSION_PROPERTIES`]), lower-cased.
        property: String,
        /// Its value, lower-cased.
        value: String,
    },
    /// `TERMINATE id` / `TERMINATE ALL`: stop running queries.
    Terminate(crate::commands::TerminateTarget),
    /// `EXPLAIN …`: a plan as readable text.
    Explain(ExplainTarget),
}

impl Statement {
    /// The plan of a bare SELECT as it runs continuously: a push query's (limited or not), or
    /// a pull query's push form — what tools that run one SELECT over a stream (Nexmark,
    /// replays) take whatever kind of query the dialect made of it. `None` for other
    /// statements.
    pub fn into_select(self) -> Option<ViewPlan> {
        match self {
            Statement::Query(plan) | Statement::LimitedQuery { plan, .. } => Some(plan),
            Statement::PullQuery(q) => Some(q.push),
            _ => None,
        }
    }
}

/// A compiled window Top-N: the plan of what is ranked, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopNPlan {
    /// What is ranked: a windowed aggregation, or a filter/projection of a stream.
    pub inner: ViewPlan,
    /// The ranking.
    pub rank: RankSpec,
}

impl TopNPlan {
    /// The Top-N of a view plan that carries a ranking (`None` for other views).
    pub fn from_view(plan: &ViewPlan) -> Option<TopNPlan> {
        let rank = plan.rank.clone()?;
        let mut inner = plan.clone();
        inner.rank = None;
        Some(TopNPlan { inner, rank })
    }

    /// The view plan the catalog stores: the inner plan carrying the ranking.
    pub fn into_view(self) -> ViewPlan {
        let mut plan = self.inner;
        plan.rank = Some(self.rank);
        plan
    }
}

/// The record-key column of a table source: a view of a table is keyed by it (ksqlDB's rule:
/// a table's primary key is its record key).
pub const KEY_COLUMN: &str = "_key";

impl AggregateFunction {
    /// True when the aggregate can take a row back: what aggregating a table needs, where an
    /// update retracts the key's previous row.
    pub fn retracts(self) -> bool {
        matches!(
            self,
            AggregateFunction::Count | AggregateFunction::Sum | AggregateFunction::Avg
        )
    }
}

/// The name of a view's changelog topic (its output rows, keyed by group).
pub fn changelog_topic(view: &str) -> String {
    format!("{view}-changelog")
}

/// Name of a view's late-record topic.
pub fn late_topic(view: &str) -> String {
    format!("{view}-late")
}

/// `EXPLAIN …`: a query planned for the occasion, or a view (or query id) that exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplainTarget {
    /// `EXPLAIN SELECT …` / `EXPLAIN CREATE TABLE v AS SELECT …`: the plan it would run.
    Plan(Box<ViewPlan>),
    /// `EXPLAIN name`: a view or a query id, looked up when the statement runs.
    Named(String),
}

/// A pull query: `SELECT … FROM table_view_or_stream [WHERE …] [LIMIT n]` without `EMIT`,
/// answered once from the current rows (a stream's: its records so far) and then done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullQuery {
    /// The query over the table's or view's current rows: a filter and projection whose
    /// source is the table or view read as a stream of its rows (its columns, no upserts).
    pub rows: ViewPlan,
    /// The same query as a push query would run it (upserting the table): a bounded run of
    /// it over a source table's topic gives that table's current rows, filtered.
    pub push: ViewPlan,
    /// At most this many rows.
    pub limit: Option<u64>,
}
