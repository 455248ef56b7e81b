use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use hadns::config::Config;
use hadns::dns::Responder;
use hadns::reload::{self, Reloader};
use hadns::server::{self, Shared};
use hadns::systemd;
use hadns::zone::{load_zones, ZoneSet};

#[derive(Parser)]
#[command(
    name = "hadns",
    version,
    about = "Authoritative DNS with health-checked failover"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones of the config.
    Serve {
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
    },
    /// Load and validate the config and every zone exactly as `serve` would; print each
    /// problem as file:line: message; exit non-zero on any error.
    Check {
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(config),
    }
}

/// Loads the config and zones, printing every problem; None if anything is invalid.
fn load_all(config_path: &std::path::Path) -> Option<(Config, ZoneSet)> {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(d) => {
            eprintln!("{d}");
            return None;
        }
    };
    let (set, diags) = load_zones(&config.server.zones_dir);
    for d in &diags.0 {
        eprintln!("{d}");
    }
    Some((config, set?))
}

fn check(config_path: &std::path::Path) -> ExitCode {
    match load_all(config_path) {
        Some((_, set)) => {
            println!(
                "ok: {} zones, {} records",
                set.zones.len(),
                set.record_count()
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

fn serve(config_path: PathBuf) -> ExitCode {
    let Some((config, zones)) = load_all(&config_path) else {
        eprintln!("hadns: not starting: fix the errors above");
        return ExitCode::FAILURE;
    };
    match run(config_path, config, zones) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hadns: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config_path: PathBuf, config: Config, zones: ZoneSet) -> Result<(), String> {
    let (zone_count, records) = (zones.zones.len(), zones.record_count());
    let shared = Shared::new(zones, Responder::new(&config.server));

    // Bind everything before serving anything: a port in use is a startup error.
    let threads = config.udp_threads();
    let mut tcp = Vec::new();
    for &addr in &config.server.listen {
        let bind_err = |e: std::io::Error| format!("cannot listen on {addr}: {e}");
        let udp = server::bind_udp(addr, threads).map_err(bind_err)?;
        tcp.push(server::bind_tcp(addr).map_err(bind_err)?);
        server::spawn_udp_workers(udp, &shared).map_err(|e| e.to_string())?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        for listener in tcp {
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
            tokio::spawn(server::serve_tcp(
                listener,
                shared.clone(),
                config.server.tcp_idle_timeout,
                config.server.tcp_max_connections,
            ));
        }
        let listen = config.server.listen.clone();
        let reloader = Arc::new(Reloader::new(config_path, config, shared));
        tokio::spawn(reload::on_sighup(reloader.clone()));
        tokio::spawn(reload::on_file_change(reloader));

        tracing::info!(zones = zone_count, records, ?listen, "serving");
        systemd::notify("READY=1");
        shutdown_signal().await;
        systemd::notify("STOPPING=1");
        tracing::info!("stopping");
        Ok::<(), String>(())
    })?;
    // UDP workers block in recv; the process exit ends them.
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
