//! `helios-atlasd`: flags, environment and config file in; a running server
//! out. Everything else lives in the `helios` library.
//!
//! Exit codes: 0 after a clean shutdown (or `-help` / `-version`), 1 when
//! the server failed while running or could not recover its data, 2 when
//! the configuration is invalid.

use std::process::ExitCode;

use helios::config::{Config, ConfigError};

fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(c) => c,
        Err(ConfigError::Help(text)) | Err(ConfigError::Version(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("helios-atlasd: {e}");
            return ExitCode::from(2);
        }
    };
    helios::logging::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads)
        .thread_name("helios-io")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("helios-atlasd: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(helios::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("helios-atlasd: {e}");
            let code = if matches!(e, helios::Error::Unsupported(_) | helios::Error::Config(_)) {
                2
            } else {
                1
            };
            ExitCode::from(code)
        }
    }
}
