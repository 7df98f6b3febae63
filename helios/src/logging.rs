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

/// The filter for `level`: other crates at `warn` unless the level is
/// `debug` or `trace`; openraft's only at `error` (it warns on every
/// heartbeat to a peer that is down, ten lines a second, and
/// `helios::raft` already reports peers going and coming once each).
fn filter(level: &str) -> EnvFilter {
    let (others, openraft) = if matches!(level, "debug" | "trace") {
        (level, level)
    } else {
        ("warn", "error")
    };
    EnvFilter::new(format!(
        "{others},openraft={openraft},helios={level},helios_atlasd={level}"
    ))
}

type LevelSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Changes the level of the installed subscriber (SIGHUP reload,
/// `CONFIG SET loglevel`).
static SET_LEVEL: std::sync::OnceLock<LevelSetter> = std::sync::OnceLock::new();

/// Installs the global subscriber.
pub fn init(config: &Config) {
    let base = tracing_subscriber::fmt()
        .with_env_filter(filter(&config.log_level))
        .with_writer(std::io::stderr);
    // The reload handle is typed by the whole subscriber, so the format is
    // chosen before reloading is enabled.
    let setter: Option<LevelSetter> = match config.log_format {
        LogFormat::Json => {
            let b = base.json().with_current_span(false).with_filter_reloading();
            let h = b.reload_handle();
            b.try_init().ok().map(|_| level_setter(h))
        }
        LogFormat::Text => {
            let b = base.event_format(SeedFormat).with_filter_reloading();
            let h = b.reload_handle();
            b.try_init().ok().map(|_| level_setter(h))
        }
    };
    if let Some(set) = setter {
        let _ = SET_LEVEL.set(set);
    }
}

fn level_setter<S: 'static>(h: tracing_subscriber::reload::Handle<EnvFilter, S>) -> LevelSetter {
    Box::new(move |level: &str| {
        h.reload(filter(level))
            .map_err(|e| format!("cannot change the log level: {e}"))
    })
}

/// Switches the running log level; `level` is already validated.
pub fn set_level(level: &str) -> Result<(), String> {
    match SET_LEVEL.get() {
        Some(set) => set(level),
        None => Err("no log subscriber installed".into()),
    }
}
