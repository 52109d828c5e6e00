//! A [`ViewPlan`] as readable text (what `EXPLAIN` prints): one line per stage, in the order a
//! record goes through them — source, join, filter, window, grouping and aggregates, HAVING,
//! projection, ranking, emission, output topics — with expressions written back as SQL.

use std::fmt::Write as _;

use crate::plan::{
    AggregateFunction, BinaryOp, EmitMode, Expr, Literal, RankKind, ServingMode, SourceKind,
    ViewPlan, WindowSpec, changelog_topic, late_topic,
};

/// The plan as text, one stage per line.
pub fn explain(plan: &ViewPlan) -> String {
    let mut out = String::new();
    let src = &plan.source;
    let kind = match src.kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table (each record upserts its key's row)",
    };
    let _ = writeln!(
        out,
        "Source: {} — {kind}, topic {}, JSON values",
        src.name, src.topic
    );
    let time = match &src.timestamp_column {
        Some(c) => format!("column {c}"),
        None => "the record timestamp (ROWTIME)".to_owned(),
    };
    let delay = src
        .watermark_delay_ms
        .map_or("the engine's default".to_owned(), |d| format!("{d} ms"));
    let _ = writeln!(out, "  Event time: {time}; watermark delay: {delay}");
    if let Some(j) = &plan.join {
        let _ = writeln!(
            out,
            "Join: {} {} AS {} ON {} = {}.{} (the table's current row)",
            if j.left { "LEFT JOIN" } else { "JOIN" },
            j.table.name,
            j.alias,
            sql(&j.stream_key),
            j.alias,
            j.table.primary_key.as_deref().unwrap_or("?")
        );
    }
    if let Some(f) = &plan.filter {
        let _ = writeln!(out, "Filter: {}", sql(f));
    }
    if let Some(w) = plan.window {
        let _ = writeln!(out, "Window: {}, grace {} ms", window(w), plan.grace_ms);
    }
    if plan.is_aggregating() {
        let keys = plan
            .group_by
            .iter()
            .map(|(n, e)| named(n, e))
            .collect::<Vec<_>>();
        let _ = writeln!(out, "Group by: {}", list(&keys));
        let aggs = plan
            .aggregates
            .iter()
            .map(|a| {
                let arg = a.arg.as_ref().map_or("*".to_owned(), sql);
                format!("{} := {}({arg})", a.name, aggregate(a.function))
            })
            .collect::<Vec<_>>();
        let _ = writeln!(out, "Aggregates: {}", list(&aggs));
    }
    if let Some(h) = &plan.having {
        let _ = writeln!(out, "Having: {}", sql(h));
    }
    let cols = plan
        .output
        .iter()
        .map(|(n, e)| named(n, e))
        .collect::<Vec<_>>();
    let _ = writeln!(out, "Project: {}", list(&cols));
    if let Some(r) = &plan.rank {
        let _ = writeln!(
            out,
            "Rank: {} per {} by {} {}, keep ranks 1..={}",
            match r.kind {
                RankKind::Rank => "RANK()",
                RankKind::RowNumber => "ROW_NUMBER()",
            },
            window(r.window),
            r.order_by,
            if r.descending { "DESC" } else { "ASC" },
            r.limit
        );
    }
    let _ = writeln!(
        out,
        "Emit: {}",
        match plan.emit {
            EmitMode::Changes => "CHANGES (every update)",
            EmitMode::Final => "FINAL (each window once, when it closes)",
        }
    );
    let serving = if plan.merges_batch() {
        "Lambda (batch view ⊕ speed layer)"
    } else if plan.serving == ServingMode::Lambda && plan.is_aggregating() {
        "Kappa (speed layer only: this view cannot be recomputed by the batch layer)"
    } else {
        "Kappa (speed layer only)"
    };
    let _ = writeln!(out, "Serving: {serving}");
    let _ = write!(
        out,
        "Output: {} (rows), {} (late records)",
        changelog_topic(&plan.name),
        late_topic(&plan.name)
    );
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn named(name: &str, e: &Expr) -> String {
    match e {
        Expr::Column(c) if c == name => name.to_owned(),
        _ => format!("{name} := {}", sql(e)),
    }
}

fn window(w: WindowSpec) -> String {
    match w {
        WindowSpec::Tumbling { size_ms } => format!("TUMBLING size {size_ms} ms"),
        WindowSpec::Hopping {
            size_ms,
            advance_ms,
        } => format!("HOPPING size {size_ms} ms, advance {advance_ms} ms"),
        WindowSpec::Session { gap_ms } => format!("SESSION gap {gap_ms} ms"),
    }
}

fn aggregate(f: AggregateFunction) -> &'static str {
    match f {
        AggregateFunction::Count => "COUNT",
        AggregateFunction::Sum => "SUM",
        AggregateFunction::Min => "MIN",
        AggregateFunction::Max => "MAX",
        AggregateFunction::Avg => "AVG",
        AggregateFunction::CountDistinct => "COUNT_DISTINCT",
        AggregateFunction::ApproxCountDistinct => "APPROX_COUNT_DISTINCT",
        AggregateFunction::Earliest => "EARLIEST_BY_OFFSET",
        AggregateFunction::Latest => "LATEST_BY_OFFSET",
    }
}

/// An expression written back as SQL, parenthesized wherever it nests.
pub fn sql(e: &Expr) -> String {
    match e {
        Expr::Column(c) => c.trim_start_matches('\0').to_owned(),
        Expr::Literal(l) => literal(l),
        Expr::Binary { op, left, right } => {
            format!("({} {} {})", sql(left), binary(*op), sql(right))
        }
        Expr::Not(x) => format!("NOT {}", sql(x)),
        Expr::Negate(x) => format!("-{}", sql(x)),
        Expr::IsNull { expr, negated } => format!(
            "{} IS {}NULL",
            sql(expr),
            if *negated { "NOT " } else { "" }
        ),
        Expr::InList {
            expr,
            list,
            negated,
        } => format!(
            "{} {}IN ({})",
            sql(expr),
            if *negated { "NOT " } else { "" },
            list.iter().map(sql).collect::<Vec<_>>().join(", ")
        ),
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => format!(
            "{} {}BETWEEN {} AND {}",
            sql(expr),
            if *negated { "NOT " } else { "" },
            sql(low),
            sql(high)
        ),
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => {
            let mut s = "CASE".to_owned();
            if let Some(o) = operand {
                let _ = write!(s, " {}", sql(o));
            }
            for (w, t) in branches {
                let _ = write!(s, " WHEN {} THEN {}", sql(w), sql(t));
            }
            if let Some(o) = otherwise {
                let _ = write!(s, " ELSE {}", sql(o));
            }
            s + " END"
        }
        Expr::Cast { expr, to } => {
            format!(
                "CAST({} AS {})",
                sql(expr),
                format!("{to:?}").to_uppercase()
            )
        }
        Expr::Function { name, args } => format!(
            "{}({})",
            name.to_uppercase(),
            args.iter().map(sql).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Null => "NULL".to_owned(),
        Literal::Boolean(b) => b.to_string().to_uppercase(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => format!("{f:?}"),
        Literal::String(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::IntervalMs(ms) => format!("INTERVAL '{ms}' MILLISECOND"),
    }
}

fn binary(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Plus => "+",
        BinaryOp::Minus => "-",
        BinaryOp::Multiply => "*",
        BinaryOp::Divide => "/",
        BinaryOp::Modulo => "%",
        BinaryOp::Eq => "=",
        BinaryOp::NotEq => "<>",
        BinaryOp::Lt => "<",
        BinaryOp::LtEq => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::GtEq => ">=",
        BinaryOp::And => "AND",
        BinaryOp::Or => "OR",
        BinaryOp::Concat => "||",
        BinaryOp::Like => "LIKE",
        BinaryOp::NotLike => "NOT LIKE",
    }
}
