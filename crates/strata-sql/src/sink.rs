//! Named outputs: where a view writes besides its own changelog, as SQL declares it —
//! ksqlDB's `CREATE STREAM|TABLE v WITH (kafka_topic='out', …) AS SELECT …` and
//! `INSERT INTO s SELECT …`, Flink's `INSERT INTO sink SELECT …` into a table declared with
//! `'connector'='kafka'|'strata'`.
//!
//! This module reads those statements into a [`SinkDef`] on the view's plan; the engine
//! checks what needs the view's output types and the log (the formats a key can take, the
//! target's schema, who else writes the topic), and the view manager writes the records.
//! Also here: the refusal of `properties.bootstrap.servers` naming another cluster, which
//! strata cannot read or write (external clusters are a later feature).

use serde::{Deserialize, Serialize};
use sqlparser::tokenizer::{Location, TokenWithSpan};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::plan::{KeyFormat, SourceDef, SourceKind, Statement, ValueFormat, changelog_topic};
use crate::tokens::{Cursor, sql_err};

/// Where a view's rows go besides `<view>-changelog`: a named topic, written exactly once
/// from the view's committed changelog (docs/design.md, "Named outputs").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkDef {
    /// The topic written.
    pub topic: String,
    /// The stream or table an `INSERT INTO` writes into; `None` for a view's own named output
    /// (`CREATE … WITH (kafka_topic=…) AS`).
    pub target: Option<String>,
    /// The declared key format; `None`: a single VARCHAR key as a plain string (as ksqlDB
    /// writes it), other keys as a JSON object.
    pub key_format: Option<KeyFormat>,
    /// The columns a record's key is made of, taken from the row (a Flink sink's PRIMARY
    /// KEY); `None`: the view's own key (its group key, and the window start).
    pub key_columns: Option<Vec<String>>,
    /// How values are written.
    pub value_format: ValueFormat,
    /// Partitions to create the topic with when it does not exist (`partitions=…`).
    pub partitions: Option<u32>,
    /// Where the statement declared it (line, column), for the engine's errors; not stored.
    #[serde(skip)]
    pub at: (u64, u64),
}

/// The properties `CREATE … WITH (…) AS SELECT` takes.
const VIEW_PROPERTIES: &str =
    "kafka_topic, partitions, replicas, key_format, value_format, serving";

/// The named output of `CREATE STREAM|TABLE name WITH (props) AS SELECT …`: `None` without a
/// `kafka_topic` (the view writes only `<name>-changelog`).
///
/// # Errors
/// [`crate::Error::Sql`] at the `WITH` for a property strata does not act on, a bad topic
/// name or partition count, or a format it cannot write.
pub(crate) fn view_output(
    name: &str,
    with_loc: Location,
    props: &[(String, String)],
) -> Result<Option<SinkDef>> {
    let prop = |k: &str| props.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    if let Some((key, _)) = props
        .iter()
        .find(|(k, _)| !VIEW_PROPERTIES.split(", ").any(|known| known == k))
    {
        return Err(sql_err(
            with_loc,
            format!(
                "property {key} has no effect on CREATE … AS SELECT; the properties are {VIEW_PROPERTIES}"
            ),
        ));
    }
    if let Some(r) = prop("replicas")
        && r != "1"
    {
        return Err(sql_err(
            with_loc,
            format!(
                "replicas={r}: a strata node keeps one copy of a topic; drop the property or write replicas=1"
            ),
        ));
    }
    let Some(topic) = prop("kafka_topic") else {
        if let Some(p) = ["partitions", "key_format", "value_format"]
            .iter()
            .find(|p| prop(p).is_some())
        {
            return Err(sql_err(
                with_loc,
                format!(
                    "{p} describes the output topic, which needs a name: add kafka_topic='{name}_out' (without it the view writes only {})",
                    changelog_topic(name)
                ),
            ));
        }
        return Ok(None);
    };
    check_topic_name(topic, with_loc)?;
    let partitions = match prop("partitions") {
        None => None,
        Some(p) => Some(
            p.parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    sql_err(
                        with_loc,
                        format!("partitions={p} is not a partition count; write a number from 1 to 10000"),
                    )
                })?,
        ),
    };
    Ok(Some(SinkDef {
        topic: topic.clone(),
        target: None,
        key_format: key_format(prop("key_format").map(String::as_str), with_loc)?,
        key_columns: None,
        value_format: value_format(prop("value_format").map(String::as_str), with_loc)?,
        partitions,
        at: (with_loc.line, with_loc.column),
    }))
}

fn check_topic_name(topic: &str, loc: Location) -> Result<()> {
    if topic.is_empty()
        || topic.contains('/')
        || topic == "."
        || topic == ".."
        || topic.ends_with("-changelog")
        || topic.ends_with("-late")
    {
        return Err(sql_err(
            loc,
            format!(
                "kafka_topic={topic:?} cannot be a named output: a name without '/' that does not end in -changelog or -late (those are views' own topics)"
            ),
        ));
    }
    Ok(())
}

/// A declared key format: ksqlDB's `KAFKA`/`JSON`/`NONE`, Flink's `raw`/`json`.
fn key_format(declared: Option<&str>, loc: Location) -> Result<Option<KeyFormat>> {
    let Some(f) = declared else { return Ok(None) };
    match f.to_ascii_lowercase().as_str() {
        "kafka" | "raw" => Ok(Some(KeyFormat::Kafka)),
        "json" => Ok(Some(KeyFormat::Json)),
        "none" => Ok(Some(KeyFormat::None)),
        _ => Err(sql_err(
            loc,
            format!("key format '{f}' cannot be written; use KAFKA (a plain key), JSON or NONE"),
        )),
    }
}

/// A declared value format; only JSON is written (more plug in at the engine's output
/// encoder).
fn value_format(declared: Option<&str>, loc: Location) -> Result<ValueFormat> {
    match declared {
        None => Ok(ValueFormat::Json),
        Some(f) if f.eq_ignore_ascii_case("json") => Ok(ValueFormat::Json),
        Some(f) => Err(sql_err(
            loc,
            format!("value format '{f}' cannot be written to an output yet; use JSON"),
        )),
    }
}

/// `INSERT INTO target SELECT …`, the cursor on `INSERT`. `plan_view` plans the query.
///
/// # Errors
/// [`crate::Error::Sql`] at the target for an unknown target, one that cannot be inserted
/// into (a table, a view whose output is its own changelog) or `VALUES`; the query's own
/// errors.
pub(crate) fn insert(
    c: &mut Cursor<'_>,
    catalog: &dyn Catalog,
    plan_view: &dyn Fn(&[TokenWithSpan], Location) -> Result<crate::plan::ViewPlan>,
) -> Result<Statement> {
    c.next(); // INSERT
    c.expect_kw("INTO", " (write `INSERT INTO stream SELECT …`)")?;
    let at = c.loc();
    let name = c.object_name("the stream to insert into")?;
    if c.peek()
        .is_some_and(|t| t.token == sqlparser::tokenizer::Token::LParen)
    {
        return Err(sql_err(
            c.loc(),
            format!(
                "a column list after INSERT INTO {name} is not supported: select the columns in {name}'s order"
            ),
        ));
    }
    if c.peek_kw("VALUES") {
        return Err(sql_err(
            c.loc(),
            format!(
                "INSERT INTO … VALUES is not supported: produce records to {name}'s topic (`strata produce`, POST /v1/topics/{{topic}}/records)"
            ),
        ));
    }
    let target = catalog.source(&name).ok_or_else(|| {
        sql_err(
            at,
            format!(
                "unknown stream {name}: INSERT INTO needs a stream, declared with CREATE STREAM {name} (…) WITH (kafka_topic='…') or CREATE STREAM {name} WITH (kafka_topic='…') AS SELECT …"
            ),
        )
    })?;
    let sink = insert_sink(&target, at)?;
    let rest = &c.toks[c.pos..];
    if rest.is_empty() {
        return Err(sql_err(
            c.end,
            format!("expected a SELECT after INSERT INTO {name}"),
        ));
    }
    let mut plan = plan_view(rest, c.end)?;
    plan.sink = Some(sink);
    Ok(Statement::Insert {
        target,
        plan: Box::new(plan),
    })
}

/// Where an `INSERT INTO target` writes, and how; an error for a target that cannot be
/// inserted into.
fn insert_sink(target: &SourceDef, at: Location) -> Result<SinkDef> {
    let name = &target.name;
    let flink = target.properties.iter().any(|(k, _)| k == "connector");
    if target.topic.ends_with("-changelog") {
        return Err(sql_err(
            at,
            format!(
                "{name} is a view whose output is its changelog {}, which only {name} writes; to make a stream other queries can INSERT INTO, create it with CREATE STREAM {name} WITH (kafka_topic='…') AS SELECT …",
                target.topic
            ),
        ));
    }
    if target.kind == SourceKind::Table && !flink {
        return Err(sql_err(
            at,
            format!(
                "{name} is a table: INSERT INTO writes into streams (a ksqlDB table is the latest row per key of its own topic or query); insert into a stream, or declare a Flink sink table with PRIMARY KEY (…) NOT ENFORCED"
            ),
        ));
    }
    let prop = |k: &str| {
        target
            .properties
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let loc = at;
    Ok(SinkDef {
        topic: target.topic.clone(),
        target: Some(name.clone()),
        key_format: key_format(prop("key_format").or(prop("key.format")), loc)?,
        // A Flink table with a PRIMARY KEY is an upsert sink: its records are keyed by it.
        key_columns: target.primary_key.clone().map(|k| vec![k]),
        value_format: value_format(
            prop("value_format")
                .or(prop("format"))
                .or(prop("value.format")),
            loc,
        )?,
        partitions: None,
        at: (at.line, at.column),
    })
}

/// Refuses a Flink `'properties.bootstrap.servers'` that names a broker other than this
/// node's own (loopback, or the node's Kafka listener as `catalog` reports it): strata reads
/// and writes its own log, and silently using it instead of the cluster named would be wrong.
///
/// # Errors
/// [`crate::Error::Sql`] at the `WITH`, naming the address.
pub(crate) fn check_bootstrap(
    servers: Option<&str>,
    catalog: &dyn Catalog,
    with_loc: Location,
) -> Result<()> {
    let Some(servers) = servers else {
        return Ok(());
    };
    let own = catalog.kafka_listener();
    for server in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !is_loopback(server) && own.as_deref() != Some(server) {
            return Err(sql_err(
                with_loc,
                format!(
                    "'properties.bootstrap.servers' = '{server}' names another Kafka cluster, which strata cannot read or write yet: strata uses its own log; write 'localhost:9092'{} or drop the property",
                    own.map(|o| format!(" or '{o}' (this node's Kafka listener)"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// True for `host[:port]` whose host is this machine's loopback.
fn is_loopback(server: &str) -> bool {
    let host = match server.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None if server.matches(':').count() > 1 => server, // a bare IPv6 address
        None => server.rsplit_once(':').map_or(server, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::plan::SqlType;
    use crate::{Error, parse};

    fn catalog() -> HashMap<String, SourceDef> {
        let mut c = HashMap::new();
        let lines = SourceDef::stream("lines")
            .column("word", SqlType::Varchar)
            .column("n", SqlType::BigInt);
        c.insert("lines".into(), lines);
        c.insert(
            "users".into(),
            SourceDef::table("users", "id").column("id", SqlType::Varchar),
        );
        let mut sink = SourceDef::table("sink", "word")
            .column("word", SqlType::Varchar)
            .column("n", SqlType::BigInt)
            .topic("out");
        sink.properties = vec![("connector".into(), "kafka".into())];
        c.insert("sink".into(), sink);
        c.insert(
            "v".into(),
            SourceDef::table("v", "x")
                .column("x", SqlType::Varchar)
                .topic("v-changelog"),
        );
        c
    }

    fn one(sql: &str) -> Statement {
        parse(sql, &catalog()).unwrap().remove(0)
    }

    /// The error of `sql`: its line, column and message.
    fn error(sql: &str) -> (u64, u64, String) {
        match parse(sql, &catalog()) {
            Err(Error::Sql {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("expected a SQL error for {sql}: {other:?}"),
        }
    }

    #[test]
    fn kafka_topic_names_the_output_of_a_view() {
        let Statement::CreateView { plan, .. } = one(
            "CREATE TABLE counts WITH (kafka_topic='counts_out', partitions=3, key_format='JSON') AS SELECT word, COUNT(*) AS c FROM lines GROUP BY word",
        ) else {
            panic!()
        };
        let sink = plan.sink.unwrap();
        assert_eq!(sink.topic, "counts_out");
        assert_eq!(sink.partitions, Some(3));
        assert_eq!(sink.key_format, Some(KeyFormat::Json));
        assert_eq!(sink.target, None);
        assert_eq!(sink.at, (1, 21));
        let Statement::CreateView { plan, .. } =
            one("CREATE STREAM s WITH (serving='kappa') AS SELECT word FROM lines")
        else {
            panic!()
        };
        assert_eq!(plan.sink, None);
    }

    #[test]
    fn view_properties_that_would_do_nothing_are_refused() {
        let (line, column, m) = error(
            "CREATE TABLE t\n  WITH (kafka_topic='x', timestamp='n') AS SELECT word FROM lines",
        );
        assert_eq!((line, column), (2, 3));
        assert!(m.contains("property timestamp has no effect"), "{m}");
        let (_, _, m) = error("CREATE TABLE t WITH (partitions=4) AS SELECT word FROM lines");
        assert!(m.contains("add kafka_topic="), "{m}");
        let (_, _, m) =
            error("CREATE TABLE t WITH (kafka_topic='x', partitions=0) AS SELECT word FROM lines");
        assert!(m.contains("partition count"), "{m}");
        let (_, _, m) =
            error("CREATE TABLE t WITH (kafka_topic='x', replicas=3) AS SELECT word FROM lines");
        assert!(m.contains("replicas=1"), "{m}");
        let (_, _, m) =
            error("CREATE TABLE t WITH (kafka_topic='x-changelog') AS SELECT word FROM lines");
        assert!(m.contains("-changelog"), "{m}");
        let (_, _, m) = error(
            "CREATE TABLE t WITH (kafka_topic='x', value_format='AVRO') AS SELECT word FROM lines",
        );
        assert!(m.contains("use JSON"), "{m}");
        let (_, _, m) = error(
            "CREATE TABLE t WITH (kafka_topic='x', key_format='AVRO') AS SELECT word FROM lines",
        );
        assert!(m.contains("KAFKA"), "{m}");
    }

    #[test]
    fn insert_into_a_stream_or_a_flink_sink() {
        let Statement::Insert { target, plan } =
            one("INSERT INTO lines SELECT word, n FROM lines WHERE n > 1")
        else {
            panic!()
        };
        assert_eq!(target.name, "lines");
        let sink = plan.sink.unwrap();
        assert_eq!(
            (sink.topic.as_str(), sink.target.as_deref()),
            ("lines", Some("lines"))
        );
        assert_eq!(sink.key_columns, None);
        assert_eq!(sink.at, (1, 13));
        let Statement::Insert { plan, .. } =
            one("INSERT INTO sink SELECT word, COUNT(*) FROM lines GROUP BY word")
        else {
            panic!()
        };
        let sink = plan.sink.unwrap();
        assert_eq!(sink.topic, "out");
        assert_eq!(sink.key_columns, Some(vec!["word".to_owned()]));
    }

    #[test]
    fn what_cannot_be_inserted_into_says_what_to_do() {
        let (line, column, m) = error("INSERT INTO\n  nowhere SELECT word FROM lines");
        assert_eq!((line, column), (2, 3));
        assert!(
            m.contains("unknown stream nowhere") && m.contains("CREATE STREAM"),
            "{m}"
        );
        let (_, column, m) = error("INSERT INTO users SELECT word FROM lines");
        assert_eq!(column, 13);
        assert!(m.contains("users is a table"), "{m}");
        let (_, _, m) = error("INSERT INTO v SELECT word FROM lines");
        assert!(
            m.contains("only v writes") && m.contains("kafka_topic"),
            "{m}"
        );
        let (_, _, m) = error("INSERT INTO lines VALUES ('a', 1)");
        assert!(m.contains("produce records"), "{m}");
        let (_, _, m) = error("INSERT INTO lines (word) SELECT word FROM lines");
        assert!(m.contains("column list"), "{m}");
        let (_, _, m) = error("INSERT INTO lines");
        assert!(m.contains("expected a SELECT"), "{m}");
    }

    #[test]
    fn bootstrap_servers_of_another_cluster_are_refused() {
        let ddl = |servers: &str| {
            format!(
                "CREATE TABLE t (a STRING) WITH ('connector'='kafka', 'topic'='t', 'format'='json', 'properties.bootstrap.servers'='{servers}')"
            )
        };
        assert!(parse(&ddl("localhost:9092"), &catalog()).is_ok());
        assert!(parse(&ddl("127.0.0.1:9092,[::1]:9093"), &catalog()).is_ok());
        let (line, column, m) = error(&ddl("broker:9092"));
        assert_eq!((line, column), (1, 27));
        assert!(
            m.contains("'broker:9092' names another Kafka cluster"),
            "{m}"
        );
        let (_, _, m) = error(&ddl("localhost:9092,kafka-2:9092"));
        assert!(m.contains("kafka-2:9092"), "{m}");
    }

    /// A node's own listener, as the engine reports it, is this node too.
    #[test]
    fn the_nodes_own_listener_is_accepted() {
        struct Node;
        impl Catalog for Node {
            fn source(&self, _: &str) -> Option<SourceDef> {
                None
            }
            fn kafka_listener(&self) -> Option<String> {
                Some("10.0.0.5:9092".into())
            }
        }
        let ddl = "CREATE TABLE t (a STRING) WITH ('connector'='kafka', 'properties.bootstrap.servers'='10.0.0.5:9092')";
        assert!(parse(ddl, &Node).is_ok());
        let other = ddl.replace("10.0.0.5", "10.0.0.6");
        let Err(Error::Sql { message, .. }) = parse(&other, &Node) else {
            panic!()
        };
        assert!(
            message.contains("'10.0.0.5:9092' (this node's Kafka listener)"),
            "{message}"
        );
    }

    #[test]
    fn loopback_hosts_are_this_node() {
        for s in [
            "localhost:9092",
            "LOCALHOST",
            "127.0.0.1:19092",
            "127.1.2.3:1",
            "[::1]:9092",
            "::1",
        ] {
            assert!(is_loopback(s), "{s}");
        }
        for s in [
            "kafka:9092",
            "10.0.0.5:9092",
            "broker.example.com",
            "[2001:db8::1]:9092",
        ] {
            assert!(!is_loopback(s), "{s}");
        }
    }
}
