//! A PostgreSQL table as an attestation source.
//!
//! Read parameters: `{"table": "clinic.records", "key": {"id": "7"}, "columns": ["name",
//! "dob"], "version": {"column": "rev", "value": "3"}}`. The read is one parameterised
//! `SELECT` of the columns, as text (PostgreSQL's output functions), of the row whose key
//! columns equal the given values (sent as text and parsed by the server into each
//! column's type, so an index on the key is used). Identifiers are checked (letters,
//! digits, `_`; `schema.table`) and quoted; values never enter the SQL text.
//!
//! The canonical bytes are the object `{column: text or null}` of the requested columns
//! ([`super::canonical_json`]). `version`, when given, pins the row: a row whose version
//! column reads otherwise, or a row gone, is [`ReadError::Moved`]. Without one, a missing
//! row reads as `null` (the source does not hold what was claimed). A key matching more
//! than one row is refused as bad parameters.
//!
//! `tables` in `sources.toml` limits what requests may read; the server ends a read after
//! 10 s (`statement_timeout`). Plain TCP only (no TLS): point attestors at the database
//! over loopback or a private network.

use std::{collections::BTreeMap, error::Error as StdError, time::Duration};

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_postgres::{
    Client, NoTls,
    types::{Format, IsNull, ToSql, Type, to_sql_checked},
};

use super::{ReadError, ReadFuture, Source, canonical_json, parse_params};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_COLUMNS: usize = 64;

/// A PostgreSQL database, one connection kept open (and reopened after a failure).
pub struct PostgresSource {
    url: String,
    /// The tables requests may read (`None`: any).
    tables: Option<Vec<String>>,
    client: tokio::sync::Mutex<Option<Client>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    table: String,
    key: BTreeMap<String, String>,
    columns: Vec<String>,
    #[serde(default)]
    version: Option<Version>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Version {
    column: String,
    value: String,
}

/// A value sent in PostgreSQL's text format: the server parses it as the column's type.
#[derive(Debug)]
struct Text<'a>(&'a str);

impl ToSql for Text<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// `name` double-quoted, if it is a plain identifier (or `schema.name` when `dotted`).
fn ident(name: &str, dotted: bool) -> Result<String, ReadError> {
    let parts: Vec<&str> = if dotted { name.split('.').collect() } else { vec![name] };
    let plain = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.len() > 2 || !parts.iter().all(|p| plain(p)) {
        return Err(ReadError::BadParams(format!("`{name}` is not a plain identifier")));
    }
    Ok(parts.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join("."))
}

/// The query of `p` and its parameters, in order.
fn query(p: &Params) -> Result<(String, Vec<&str>), ReadError> {
    if p.columns.is_empty() || p.columns.len() > MAX_COLUMNS {
        return Err(ReadError::BadParams(format!("1..={MAX_COLUMNS} columns")));
    }
    if p.key.is_empty() {
        return Err(ReadError::BadParams("no key columns".into()));
    }
    let mut select: Vec<String> = Vec::new();
    for c in &p.columns {
        select.push(format!("{}::text", ident(c, false)?));
    }
    if let Some(v) = &p.version {
        select.push(format!("{}::text", ident(&v.column, false)?));
    }
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    for (i, (column, value)) in p.key.iter().enumerate() {
        conditions.push(format!("{} = ${}", ident(column, false)?, i + 1));
        values.push(value.as_str());
    }
    let sql = format!("SELECT {} FROM {} WHERE {} LIMIT 2", select.join(", "), ident(&p.table, true)?, conditions.join(" AND "));
    Ok((sql, values))
}

impl PostgresSource {
    /// A source reached with the connection string `url` (`postgres://user:pw@host:port/db`
    /// or `host=… dbname=…`); nothing is opened until the first read.
    /// `tables`, if given, are the only ones requests may read.
    pub fn new(url: &str, tables: Option<Vec<String>>) -> anyhow::Result<Self> {
        url.parse::<tokio_postgres::Config>().map_err(|e| anyhow::anyhow!("`{url}` is not a PostgreSQL connection string: {e}"))?;
        Ok(Self { url: url.to_string(), tables, client: tokio::sync::Mutex::new(None) })
    }

    async fn connect(&self) -> Result<Client, ReadError> {
        let connecting = tokio_postgres::connect(&self.url, NoTls);
        let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| ReadError::Unavailable("connecting to PostgreSQL timed out".into()))?
            .map_err(|e| ReadError::Unavailable(format!("connecting to PostgreSQL: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection closed");
            }
        });
        // The server ends a read that runs too long (a requester choosing an unindexed
        // key); a dropped future alone would leave it running there.
        let limit = format!("SET statement_timeout = {}", QUERY_TIMEOUT.as_millis());
        client.batch_execute(&limit).await.map_err(|e| ReadError::Unavailable(format!("setting the statement timeout: {e}")))?;
        Ok(client)
    }

    async fn read_params(&self, params: &[u8]) -> Result<Vec<u8>, ReadError> {
        let p: Params = parse_params(params)?;
        if let Some(allowed) = &self.tables
            && !allowed.contains(&p.table)
        {
            return Err(ReadError::BadParams(format!("table {} is not one this attestor reads", p.table)));
        }
        let (sql, values) = query(&p)?;
        let args: Vec<Text<'_>> = values.into_iter().map(Text).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let mut guard = self.client.lock().await;
        let client = match guard.take() {
            Some(c) if !c.is_closed() => c,
            _ => self.connect().await?,
        };
        let rows = match tokio::time::timeout(QUERY_TIMEOUT + Duration::from_secs(2), client.query(&sql, &refs)).await {
            Err(_) => return Err(ReadError::Unavailable("the query timed out".into())),
            Ok(Err(e)) => {
                // SQL errors of the read itself (no such table or column, a key value
                // its column's type cannot parse) are the parameters' fault; the rest
                // is the server's or the connection's.
                let class = e.code().map(|c| c.code().get(..2).unwrap_or_default().to_string());
                if matches!(class.as_deref(), Some("42" | "22")) {
                    *guard = Some(client);
                    return Err(ReadError::BadParams(e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())));
                }
                return Err(ReadError::Unavailable(format!("query failed: {e}")));
            }
            Ok(Ok(rows)) => rows,
        };
        *guard = Some(client);
        drop(guard);
        if rows.len() > 1 {
            return Err(ReadError::BadParams(format!("the key {:?} matches more than one row of {}", p.key, p.table)));
        }
        let Some(row) = rows.first() else {
            return match &p.version {
                Some(v) => {
                    Err(ReadError::Moved(format!("no row of {} has key {:?} (pinned at {} = {})", p.table, p.key, v.column, v.value)))
                }
                None => canonical_json(&Value::Null),
            };
        };
        let text = |i: usize| -> Result<Option<String>, ReadError> {
            row.try_get::<_, Option<String>>(i).map_err(|e| ReadError::Unavailable(format!("column {i} did not decode as text: {e}")))
        };
        if let Some(v) = &p.version {
            let now = text(p.columns.len())?;
            if now.as_deref() != Some(v.value.as_str()) {
                return Err(ReadError::Moved(format!("{} is now {now:?}, the request pins {}", v.column, v.value)));
            }
        }
        let mut object = Map::new();
        for (i, c) in p.columns.iter().enumerate() {
            object.insert(c.clone(), text(i)?.map_or(Value::Null, Value::String));
        }
        canonical_json(&Value::Object(object))
    }
}

impl Source for PostgresSource {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn read<'a>(&'a self, params: &'a [u8]) -> ReadFuture<'a> {
        Box::pin(self.read_params(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked_and_quoted() {
        assert_eq!(ident("clinic.records", true).unwrap(), "\"clinic\".\"records\"");
        for bad in ["a;drop", "x\"y", "", "1a", "a.b.c", "a b"] {
            assert!(ident(bad, true).is_err(), "{bad}");
        }
        assert!(ident("a.b", false).is_err());
    }

    #[test]
    fn the_query_has_values_only_as_parameters() {
        let p: Params = serde_json::from_str(
            r#"{"table":"t","key":{"id":"7' OR 1=1 --","k2":"x"},"columns":["name"],"version":{"column":"rev","value":"3"}}"#,
        )
        .unwrap();
        let (sql, values) = query(&p).unwrap();
        assert_eq!(sql, r#"SELECT "name"::text, "rev"::text FROM "t" WHERE "id" = $1 AND "k2" = $2 LIMIT 2"#);
        assert_eq!(values, ["7' OR 1=1 --", "x"]);
    }
}
