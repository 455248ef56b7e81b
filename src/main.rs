use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use hadns::cluster::Cluster;
use hadns::config::Config;
use hadns::dns::Responder;
use hadns::health::{Engine, HealthTable};
use hadns::http::{self, Api};
use hadns::load::{load, Content};
use hadns::metrics::Exporter;
use hadns::reload::{self, Reloader};
use hadns::route53;
use hadns::secondaries::Secondaries;
use hadns::server::{self, DnsService};
use hadns::snapshot::{self, Live, Snapshot};
use hadns::systemd;
use hadns::watch::FileStamp;

#[derive(Parser)]
#[command(
    name = "hadns",
    version,
    about = "Authoritative DNS with health-checked failover"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text (for people) or JSON (one object per line, for collectors).
    /// The level comes from RUST_LOG (default: info).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones of the config.
    Serve {
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
        /// Log every query (client, name, type, zone, rcode, transport) at info level.
        #[arg(long)]
        log_queries: bool,
    },
    /// Load and validate the config and every zone exactly as `serve` would; print each
    /// problem as file:line: message; exit non-zero on any error.
    Check {
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
    },
    /// Show the running server's health checks (status, since, last result, overrides,
    /// observers) and its cluster, from its API.
    Status {
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
    },
    /// Show the answer the running server gives NAME TYPE now, and why.
    Explain {
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        /// The client: an address, or a prefix as sent in EDNS Client Subnet.
        #[arg(long)]
        client: Option<String>,
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
    },
    /// Make a DNSSEC key pair for ZONE in the config's keys_dir, in BIND's format
    /// (K<zone>+<alg>+<tag>.key and .private), published and active from now.
    Keygen {
        zone: String,
        /// ecdsap256sha256 (13) or ed25519 (15).
        #[arg(long, default_value = "ecdsap256sha256")]
        algorithm: String,
        /// csk: one key signs everything (flags 257); ksk: signs the DNSKEY set (257);
        /// zsk: signs the rest (256).
        #[arg(long, default_value = "csk")]
        role: String,
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
    },
    /// Print the DS records of ZONE's key-signing keys, to give the parent zone.
    Ds {
        zone: String,
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
    },
    /// Turn another system's zone into hadns's files.
    #[command(subcommand)]
    Import(Import),
    /// Turn a zone of hadns into what another system takes.
    #[command(subcommand)]
    Export(Export),
}

#[derive(Subcommand)]
enum Import {
    /// From `aws route53 list-resource-record-sets` output (and `list-health-checks`,
    /// `list-cidr-blocks`) to DIR/ORIGIN.zone and DIR/ORIGIN.toml. The `[[region]]`s that
    /// latency and geoproximity sets need are printed for hadns.toml; what cannot be
    /// carried over is listed.
    Route53 {
        #[arg(long)]
        origin: String,
        #[arg(long)]
        records: PathBuf,
        #[arg(long)]
        health_checks: Option<PathBuf>,
        #[arg(long)]
        cidr_blocks: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Replace DIR/ORIGIN.zone and DIR/ORIGIN.toml if they exist.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum Export {
    /// A zone of the config to a change batch for `aws route53
    /// change-resource-record-sets` (FILE), the checks to create
    /// (FILE.health-checks.json) and the CIDR collection's locations
    /// (FILE.cidr-collection.json).
    Route53 {
        #[arg(long)]
        origin: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "hadns.toml")]
        config: PathBuf,
        /// The hosted zone's id, for alias targets.
        #[arg(long)]
        hosted_zone_id: Option<String>,
        /// The CIDR collection's id, for IP-based sets.
        #[arg(long)]
        cidr_collection_id: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Keygen {
            zone,
            algorithm,
            role,
            config,
        } => keygen(&config, &zone, &algorithm, &role),
        Command::Ds { zone, config } => ds(&config, &zone),
        Command::Status { config } => api_view(&config, hadns::cli::status),
        Command::Explain {
            name,
            rtype,
            client,
            config,
        } => api_view(&config, |c| {
            hadns::cli::explain(c, &name, &rtype, client.as_deref())
        }),
        Command::Serve {
            config,
            log_queries,
        } => serve(config, log_queries),
        Command::Import(Import::Route53 {
            origin,
            records,
            health_checks,
            cidr_blocks,
            out,
            force,
        }) => import_route53(
            &origin,
            &records,
            health_checks.as_deref(),
            cidr_blocks.as_deref(),
            &out,
            force,
        ),
        Command::Export(Export::Route53 {
            origin,
            out,
            config,
            hosted_zone_id,
            cidr_collection_id,
        }) => export_route53(
            &origin,
            &out,
            &config,
            &route53::export::Options {
                hosted_zone_id: hosted_zone_id.as_deref(),
                cidr_collection_id: cidr_collection_id.as_deref(),
            },
        ),
    }
}

/// The origin given on the command line, as a name.
fn origin_arg(origin: &str) -> Result<hickory_proto::rr::Name, String> {
    let absolute = if origin.ends_with('.') {
        origin.to_string()
    } else {
        format!("{origin}.")
    };
    hadns::zone::text::name(&absolute, &hickory_proto::rr::Name::root())
        .map_err(|e| format!("--origin: {e}"))
}

fn import_route53(
    origin: &str,
    records: &Path,
    health_checks: Option<&Path>,
    cidr_blocks: Option<&Path>,
    out: &Path,
    force: bool,
) -> ExitCode {
    let run = || -> Result<(), String> {
        let origin = origin_arg(origin)?;
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))
        };
        let records_text = read(records)?;
        let checks_text = health_checks.map(read).transpose()?;
        let cidr_text = cidr_blocks.map(read).transpose()?;
        let imported = route53::import::import(
            &origin,
            &route53::import::Input {
                records: (records, &records_text),
                health_checks: health_checks.zip(checks_text.as_deref()),
                cidr_blocks: cidr_blocks.zip(cidr_text.as_deref()),
            },
        )?;
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let stem = origin.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        let mut files = vec![(out.join(format!("{stem}.zone")), imported.zone)];
        if let Some(policy) = imported.policy {
            files.push((out.join(format!("{stem}.toml")), policy));
        }
        write_new_files(&files, force)?;
        report(&imported.notes);
        if !imported.regions.is_empty() {
            eprintln!("hadns: add these [[region]]s (on standard output) to hadns.toml");
            print!("{}", imported.regions);
        }
        Ok(())
    };
    finish(run())
}

fn export_route53(
    origin: &str,
    out: &Path,
    config: &Path,
    options: &route53::export::Options<'_>,
) -> ExitCode {
    let run = || -> Result<(), String> {
        let origin = origin_arg(origin)?;
        let Some(Startup { content, .. }) = load_all(config) else {
            return Err(format!("{}: not valid (see above)", config.display()));
        };
        let (zone, policies) =
            route53::export::find(&content.zones.zones, &content.policies, &origin)
                .ok_or_else(|| format!("no zone {origin} in {}", config.display()))?;
        let exported = route53::export::export(zone, policies, options);
        let beside = |suffix: &str| {
            let mut name = out.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let mut files = vec![(out.to_path_buf(), exported.batch)];
        if let Some(checks) = exported.health_checks {
            files.push((beside(".health-checks.json"), checks));
        }
        if let Some(cidr) = exported.cidr_collection {
            files.push((beside(".cidr-collection.json"), cidr));
        }
        write_new_files(&files, true)?;
        report(&exported.notes);
        Ok(())
    };
    finish(run())
}

/// Writes each file whole (a temporary beside it, then a rename, so that a server
/// watching the directory never reads half of one); refuses to replace one that exists
/// unless `replace`.
fn write_new_files(files: &[(PathBuf, String)], replace: bool) -> Result<(), String> {
    if !replace {
        if let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
            return Err(format!(
                "{} exists: give --force to replace it",
                p.display()
            ));
        }
    }
    for (path, text) in files {
        let tmp = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        eprintln!("hadns: wrote {}", path.display());
    }
    Ok(())
}

/// What was not carried over, one line each.
fn report(notes: &[String]) {
    for n in notes {
        eprintln!("hadns: note: {n}");
    }
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hadns: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a successful start-up load gives: the config, the zones, and the stamps of
/// every file read (for the reload watcher).
struct Startup {
    config: Config,
    content: Content,
    files: Vec<FileStamp>,
}

/// Loads the config and zones, printing every problem; None if anything is invalid.
fn load_all(config_path: &std::path::Path) -> Option<Startup> {
    let loaded = load(config_path);
    for d in &loaded.diags.0 {
        eprintln!("{d}");
    }
    Some(Startup {
        config: loaded.config?,
        content: loaded.content?,
        files: loaded.files,
    })
}

/// Prints what `view` reads from the API of the server `config_path` configures.
fn api_view(
    config_path: &std::path::Path,
    view: impl FnOnce(&Config) -> Result<String, String>,
) -> ExitCode {
    let shown = Config::load(config_path)
        .map_err(|d| d.to_string())
        .and_then(|c| view(&c));
    match shown {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hadns: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(config_path: &std::path::Path) -> ExitCode {
    match load_all(config_path) {
        Some(Startup { content: data, .. }) => {
            let signed = data.keys.iter().filter(|k| !k.is_empty()).count();
            println!(
                "ok: {} zones, {} records, {} policy groups{}",
                data.zones.zones.len(),
                data.zones.record_count(),
                data.policies.iter().map(|p| p.groups.len()).sum::<usize>(),
                if signed > 0 {
                    format!(", {signed} signed")
                } else {
                    String::new()
                }
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

/// The keys directory of a config: `[dnssec] keys_dir`, or `keys` beside the config.
fn keys_dir(config_path: &std::path::Path) -> Result<PathBuf, String> {
    let config = hadns::config::Config::load(config_path).map_err(|d| d.to_string())?;
    Ok(match config.dnssec {
        Some(d) => d.keys_dir,
        None => config_path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("keys"),
    })
}

fn zone_name(zone: &str) -> Result<hickory_proto::rr::Name, String> {
    let mut name = hickory_proto::rr::Name::from_ascii(zone)
        .map_err(|e| format!("{zone:?} is not a zone name: {e}"))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

fn keygen(config_path: &std::path::Path, zone: &str, algorithm: &str, role: &str) -> ExitCode {
    use hadns::dnssec::key::{self, Algorithm, SEP, ZONE_KEY};
    let made = (|| {
        let zone = zone_name(zone)?;
        let algorithm = Algorithm::from_name(algorithm)
            .ok_or_else(|| format!("algorithm {algorithm:?}: ecdsap256sha256 or ed25519"))?;
        let flags = match role {
            "csk" | "ksk" => ZONE_KEY | SEP,
            "zsk" => ZONE_KEY,
            _ => return Err(format!("role {role:?}: csk, ksk or zsk")),
        };
        let dir = keys_dir(config_path)?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let now = hadns::dnssec::key::unix_now();
        key::generate(&dir, &zone, algorithm, flags, now)
    })();
    match made {
        Ok(k) => {
            println!("{}", k.base_name());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hadns keygen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ds(config_path: &std::path::Path, zone: &str) -> ExitCode {
    let found = (|| {
        let zone = zone_name(zone)?;
        let dir = keys_dir(config_path)?;
        let mut diags = hadns::diag::Diagnostics::default();
        let keys = hadns::dnssec::key::read_zone_keys(&dir, &zone, &mut diags);
        if let Some(e) = diags.errors().next() {
            return Err(e.to_string());
        }
        let now = hadns::dnssec::key::unix_now();
        let ds: Vec<String> = keys
            .iter()
            .filter(|k| k.is_sep() && k.timing.published(now))
            .map(|k| k.ds_text())
            .collect();
        if ds.is_empty() {
            return Err(format!(
                "no published key-signing key of {zone} in {}",
                dir.display()
            ));
        }
        Ok(ds)
    })();
    match found {
        Ok(ds) => {
            for line in ds {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hadns ds: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How long a node that starts waits to hear from a peer before it starts alone.
const JOIN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn serve(config_path: PathBuf, log_queries: bool) -> ExitCode {
    // Before anything is loaded: the zones register their counters as they load.
    let exporter = match Exporter::install() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("hadns: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(startup) = load_all(&config_path) else {
        eprintln!("hadns: not starting: fix the errors above");
        return ExitCode::FAILURE;
    };
    match run(config_path, startup, exporter, log_queries) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hadns: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    config_path: PathBuf,
    startup: Startup,
    exporter: Exporter,
    log_queries: bool,
) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let Startup {
        config,
        content,
        files,
    } = startup;
    let (zone_count, records) = (content.zones.zones.len(), content.zones.record_count());
    let checks = content.checks.clone();
    let content = Arc::new(content);
    // Until the first round of checks, Route 53's assumptions; nothing is answered before.
    let assumed = HealthTable::assumed(&checks);
    let live = Live::new(Snapshot::new(content, &assumed));
    let dns = Arc::new(DnsService {
        live: live.clone(),
        responder: Responder::new(&config, log_queries)?,
    });
    let engine = Engine::new(&config.health, config.cluster.as_ref());
    let reloader = Arc::new(Reloader::new(
        config_path,
        config.clone(),
        live.clone(),
        engine.clone(),
        files,
    ));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        // Signal handlers before any socket answers: a SIGHUP sent as soon as we answer
        // must reload, not kill the process (its default action).
        let signal_err = |e: std::io::Error| format!("cannot handle signals: {e}");
        let hup = signal(SignalKind::hangup()).map_err(signal_err)?;
        let mut term = signal(SignalKind::terminate()).map_err(signal_err)?;
        let mut int = signal(SignalKind::interrupt()).map_err(signal_err)?;

        // Bind everything before serving anything: a port in use is a startup error.
        let threads = config.udp_threads();
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for &addr in &config.server.listen {
            let bind_err = |e: std::io::Error| format!("cannot listen on {addr}: {e}");
            udp.push(server::bind_udp(addr, threads).map_err(bind_err)?);
            let listener = server::bind_tcp(addr).map_err(bind_err)?;
            tcp.push(tokio::net::TcpListener::from_std(listener).map_err(bind_err)?);
        }
        let http_addr = config.http.listen;
        let http_listener = std::net::TcpListener::bind(http_addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("cannot listen on {http_addr} ([http] listen): {e}"))?;
        engine.start();
        // In a cluster, what the peers know first: a node that restarts must not
        // answer from its own view alone while its peers know better.
        let cluster = match &config.cluster {
            Some(c) => {
                Some(Cluster::start(c, engine.clone(), live.clone(), reloader.clone()).await?)
            }
            None => None,
        };
        let api = Arc::new(Api::new(
            engine.clone(),
            live.clone(),
            reloader.clone(),
            exporter,
            &config.http,
            cluster.clone(),
        ));
        // The API on a thread and runtime of its own: scrapes and slow clients never
        // take time from DNS over TCP, health checks or gossip.
        http::spawn_thread(http_listener, api).map_err(|e| format!("cannot start the API: {e}"))?;
        if let Some(c) = &cluster {
            c.wait_for_peers(JOIN_WAIT).await;
        }

        // The first round of checks without a saved state, before any answer: traffic
        // must not flap at start.
        engine.configure(checks).await;
        if config.transfer.is_on() {
            live.decide_serials_by(Box::new(Secondaries::new(
                config.health.state_file.with_file_name("serials.json"),
                config.transfer.notify.clone(),
                dns.responder.tsig.required_signer().cloned(),
                &config.server.listen,
            )));
        }
        live.swap(None, || engine.table());
        tokio::spawn(snapshot::follow_health(live.clone(), engine.clone()));

        for sockets in udp {
            server::spawn_udp_workers(sockets, &dns).map_err(|e| e.to_string())?;
        }
        for listener in tcp {
            tokio::spawn(server::serve_tcp(
                listener,
                dns.clone(),
                config.server.tcp_idle_timeout,
                server::accept::Limits {
                    max: config.server.tcp_max_connections,
                    per_client: config.server.tcp_max_connections_per_client,
                },
            ));
        }
        let listen = config.server.listen.clone();
        tokio::spawn(reload::on_sighup(reloader.clone(), hup));
        tokio::spawn(reload::resign_in_time(reloader.clone()));
        tokio::spawn(reload::on_file_change(reloader));

        tracing::info!(zones = zone_count, records, ?listen, http = %http_addr, "serving");
        systemd::notify("READY=1");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        systemd::notify("STOPPING=1");
        tracing::info!("stopping");
        Ok::<(), String>(())
    })?;
    // UDP workers block in recv; the process exit ends them.
    Ok(())
}
