//! Log output: `[LEVEL] component: message [key value ...]` in text mode
//! (the shape the seed document shows), or one JSON object per line with
//! `-log-format json`.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// The text format: `[INFO] server: ready ... [key value]`.
struct SeedFormat;

struct FieldWriter<'a> {
    message: &'a mut String,
    fields: &'a mut Vec<(String, String)>,
}

impl tracing::field::Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            *self.message = format!("{value:?}");
        } else {
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            *self.message = value.to_string();
        } else {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }
}

impl<S, N> FormatEvent<S, N> for SeedFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        // helios::server::conn -> server; other crates keep their name.
        let target = meta.target();
        let component = match target.strip_prefix("helios::") {
            Some(rest) => rest.split("::").next().unwrap_or(rest),
            None => target.split("::").next().unwrap_or(target),
        };
        let mut message = String::new();
        let mut fields = Vec::new();
        event.record(&mut FieldWriter {
            message: &mut message,
            fields: &mut fields,
        });
        write!(w, "[{}] {component}: {message}", meta.level())?;
        if !fields.is_empty() {
            let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
            write!(w, " [{}]", parts.join(" "))?;
        }
        writeln!(w)
    }
}

/// Installs the global subscriber. Other crates' events are shown at `warn`
/// unless the level is `debug` or `trace`; openraft's only at `error`: it
/// warns on every heartbeat to a peer that is down (ten lines a second),
/// and `helios::raft` already reports peers going and coming once each.
pub fn init(config: &Config) {
    let level = config.log_level.as_str();
    let (others, openraft) = if matches!(level, "debug" | "trace") {
        (level, level)
    } else {
        ("warn", "error")
    };
    let filter = EnvFilter::new(format!(
        "{others},openraft={openraft},helios={level},helios_atlasd={level}"
    ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Text => builder.event_format(SeedFormat).try_init(),
    };
}
