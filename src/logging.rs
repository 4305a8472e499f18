//! Log output: greppable `key=value` text lines by default, or one JSON object per line.
//!
//! Messages carry their fields as structured key-values (`log::info!(host = ...; "...")`), so
//! both formats render the same information: text as `msg key=value ...`, JSON as fields.

use std::io::Write;
use std::time::SystemTime;

use clap::ValueEnum;
use log::kv::{Error, Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the logger. `RUST_LOG` (env_logger syntax) overrides `default_filter`.
pub fn init(format: LogFormat, default_filter: &str) {
    let env = env_logger::Env::default().default_filter_or(default_filter);
    env_logger::Builder::from_env(env)
        .format(move |buf, record| {
            let ts = humantime::format_rfc3339_millis(SystemTime::now());
            match format {
                LogFormat::Text => {
                    let mut fields = TextFields(String::new());
                    let _ = record.key_values().visit(&mut fields);
                    writeln!(
                        buf,
                        "{ts} {:<5} {}{}",
                        record.level(),
                        record.args(),
                        fields.0
                    )
                }
                LogFormat::Json => {
                    let mut object = Map::new();
                    object.insert("ts".into(), Json::String(ts.to_string()));
                    object.insert(
                        "level".into(),
                        Json::String(record.level().as_str().to_ascii_lowercase()),
                    );
                    object.insert("target".into(), Json::String(record.target().to_string()));
                    object.insert("msg".into(), Json::String(record.args().to_string()));
                    let mut fields = JsonFields(&mut object);
                    let _ = record.key_values().visit(&mut fields);
                    writeln!(buf, "{}", Json::Object(object))
                }
            }
        })
        .init();
}

/// Appends ` key=value`, quoting values that contain spaces, quotes or `=`.
struct TextFields(String);

impl<'kvs> VisitSource<'kvs> for TextFields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), Error> {
        let text = value.to_string();
        let needs_quotes = text.is_empty() || text.contains([' ', '"', '=', '\n', '\t']);
        if needs_quotes {
            self.0.push_str(&format!(" {key}={text:?}"));
        } else {
            self.0.push_str(&format!(" {key}={text}"));
        }
        Ok(())
    }
}

/// Adds each field to the JSON object with its natural type.
struct JsonFields<'a>(&'a mut Map<String, Json>);

impl<'kvs> VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), Error> {
        let json = if let Some(b) = value.to_bool() {
            Json::Bool(b)
        } else if let Some(n) = value.to_u64() {
            Json::from(n)
        } else if let Some(n) = value.to_i64() {
            Json::from(n)
        } else if let Some(n) = value.to_f64() {
            serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
        } else {
            Json::String(value.to_string())
        };
        self.0.insert(key.to_string(), json);
        Ok(())
    }
}
