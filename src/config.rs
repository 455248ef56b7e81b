//! `hadns.toml`: where to listen and where the zones are.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::coordinates::Coordinates;
use crate::diag::{line_of_offset, Diagnostic};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub routing: RoutingConfig,
    #[serde(default)]
    pub transfer: TransferConfig,
    /// TSIG keys (RFC 8945), for zone transfers and NOTIFY.
    #[serde(default, rename = "tsig_key")]
    pub tsig_keys: Vec<TsigKey>,
    /// Other nodes serving the same zones, sharing what they observe. None: one node.
    pub cluster: Option<ClusterConfig>,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Signing. None: no zone is signed.
    pub dnssec: Option<DnssecConfig>,
    /// Regions that latency and geoproximity records name.
    #[serde(default, rename = "region", deserialize_with = "regions")]
    pub regions: Vec<Region>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// A MaxMind-format database: client location for geolocation, geoproximity and
    /// the latency fallback. Relative to the config file.
    pub geoip_db: Option<PathBuf>,
    /// Lines `client_prefix,region,rtt_ms`. Relative to the config file.
    pub latency_table: Option<PathBuf>,
}

/// Zone transfers out (AXFR, IXFR) to standard secondaries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferConfig {
    /// Who may transfer the zones; everyone else gets REFUSED. Empty: no one.
    #[serde(default, deserialize_with = "networks")]
    pub allow: Vec<ipnet::IpNet>,
    /// Secondaries sent a NOTIFY on every change of a zone (port 53 unless given).
    #[serde(default, deserialize_with = "servers")]
    pub notify: Vec<std::net::SocketAddr>,
    /// The `[[tsig_key]]` every transfer must be signed with, and NOTIFYs are.
    pub tsig_key: Option<String>,
}

/// A `[[tsig_key]]`: its name, algorithm, and the file holding its secret (base64).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: String,
    pub secret_file: PathBuf,
    /// Read from `secret_file` once, at load; never shown.
    #[serde(skip)]
    pub secret: Secret,
}

/// DNSSEC: a zone with keys in `keys_dir` is signed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecConfig {
    /// BIND-format key files, `K<zone>+<alg>+<tag>.key` / `.private`.
    #[serde(default = "default_keys_dir")]
    pub keys_dir: PathBuf,
    #[serde(default)]
    pub denial: Denial,
    /// How long a signature is valid from when it is made.
    #[serde(default = "default_signature_validity", with = "duration_text")]
    pub signature_validity: Duration,
}

/// How the absence of names and types is proven.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Denial {
    /// RFC 5155 with RFC 9276's parameters: no salt, no extra iterations.
    #[default]
    Nsec3,
    Nsec,
    /// RFC 9824: one NSEC made per query, NXDOMAIN shown as NODATA with NXNAME.
    Compact,
}

fn default_keys_dir() -> PathBuf {
    PathBuf::from("keys")
}

fn default_signature_validity() -> Duration {
    Duration::from_secs(14 * 86400)
}

/// Response rate limiting over UDP (BIND's and Knot's RRL).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Per client network and kind of answer; 0: off.
    #[serde(default)]
    pub responses_per_second: u32,
    /// Every `slip`-th limited response goes out truncated, the rest are dropped (0: all
    /// dropped, 1: all truncated).
    #[serde(default = "default_slip")]
    pub slip: u32,
    /// An account (client network and kind of answer) unused this long is forgotten.
    #[serde(default = "default_rrl_window", with = "duration_text")]
    pub window: Duration,
    #[serde(default = "default_v4_prefix", deserialize_with = "v4_prefix")]
    pub ipv4_prefix: u8,
    #[serde(default = "default_v6_prefix", deserialize_with = "v6_prefix")]
    pub ipv6_prefix: u8,
    /// Networks never limited.
    #[serde(default, deserialize_with = "networks")]
    pub exempt: Vec<ipnet::IpNet>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            responses_per_second: 0,
            slip: default_slip(),
            window: default_rrl_window(),
            ipv4_prefix: default_v4_prefix(),
            ipv6_prefix: default_v6_prefix(),
            exempt: Vec::new(),
        }
    }
}

fn default_slip() -> u32 {
    2
}
fn default_rrl_window() -> Duration {
    Duration::from_secs(15)
}
fn default_v4_prefix() -> u8 {
    24
}
fn default_v6_prefix() -> u8 {
    56
}
fn v4_prefix<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    checked(d, |v: &u8| match *v {
        0..=32 => Ok(()),
        _ => Err("ipv4_prefix is 0-32"),
    })
}
fn v6_prefix<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    checked(d, |v: &u8| match *v {
        0..=128 => Ok(()),
        _ => Err("ipv6_prefix is 0-128"),
    })
}

/// The nodes of a cluster: gossip, its key, and how their observations decide a check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster; the host name unless given.
    #[serde(default = "host_name")]
    pub node: String,
    /// Gossip, over UDP.
    #[serde(default = "default_gossip_listen")]
    pub listen: SocketAddr,
    /// Where peers reach this node; `listen` unless given.
    pub advertise: Option<SocketAddr>,
    /// Peers to join through; the rest are learned.
    #[serde(default)]
    pub seeds: Vec<SocketAddr>,
    /// 32 random bytes, base64; only its owner may read it. Relative to the config file.
    pub key_file: PathBuf,
    #[serde(default)]
    pub health_quorum: Quorum,
    /// False: probe nothing, decide from the peers' observations.
    #[serde(default = "yes")]
    pub probe: bool,
    /// Read from `key_file` at load.
    #[serde(skip)]
    pub key: Secret,
}

impl ClusterConfig {
    pub fn advertised(&self) -> SocketAddr {
        self.advertise.unwrap_or(self.listen)
    }
}

/// How the observers of a check decide its measured status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quorum {
    /// Healthy when more than 18% of observers say so, as Route 53 decides (§4.3).
    #[default]
    Route53,
    /// Healthy when more than half say so.
    Majority,
    /// Healthy only when every observer says so.
    All,
}

impl Quorum {
    /// The decision from `healthy` of `observers` (at least one).
    pub fn healthy(self, healthy: usize, observers: usize) -> bool {
        match self {
            // 100 × healthy > 18 × observers, in integers.
            Quorum::Route53 => 100 * healthy > 18 * observers,
            Quorum::Majority => 2 * healthy > observers,
            Quorum::All => healthy == observers,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Quorum::Route53 => "route53",
            Quorum::Majority => "majority",
            Quorum::All => "all",
        }
    }
}

/// The length of a cluster key, in bytes.
pub const CLUSTER_KEY_LEN: usize = 32;

/// The shortest API token accepted.
const MIN_TOKEN: usize = 16;

/// Key material: its Debug says nothing of it.
#[derive(Clone, Default, PartialEq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(secret)")
    }
}

impl TransferConfig {
    /// Whether any secondary is served: then serials move with every change.
    pub fn is_on(&self) -> bool {
        !self.allow.is_empty() || !self.notify.is_empty()
    }
}

/// The HTTP listener: health and status API, metrics.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
    /// A file holding the bearer token of the write endpoints; without one they answer 403.
    /// Relative to the config file.
    pub token_file: Option<PathBuf>,
    /// The token, read from `token_file` at load (so `check` and `serve` judge it alike).
    #[serde(skip)]
    pub token: Option<Secret>,
    /// Names the API answers to in the `Host` header, besides IP addresses and
    /// `localhost`: any other is refused (a page in a browser reaching the API by DNS
    /// rebinding sends its own name).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Reads (metrics, health checks, explain, cluster) need the token too; `/healthz`
    /// never does.
    #[serde(default)]
    pub token_for_reads: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_http_listen(),
            token_file: None,
            token: None,
            hosts: Vec::new(),
            token_for_reads: false,
        }
    }
}

/// The health-check engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Last known statuses, read at start. Relative to the config file. Manual overrides
    /// live beside it, in `overrides.json`.
    #[serde(default = "default_state_file")]
    pub state_file: PathBuf,
    /// Probes in flight at once; the rest wait their turn.
    #[serde(
        default = "default_max_concurrent_probes",
        deserialize_with = "max_concurrent_probes"
    )]
    pub max_concurrent_probes: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            state_file: default_state_file(),
            max_concurrent_probes: default_max_concurrent_probes(),
        }
    }
}

impl HealthConfig {
    /// The overrides file: `overrides.json` beside the state file.
    pub fn overrides_file(&self) -> PathBuf {
        self.state_file.with_file_name("overrides.json")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub id: String,
    pub location: Coordinates,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Each address is served over UDP and TCP.
    #[serde(default = "default_listen", deserialize_with = "listen")]
    pub listen: Vec<SocketAddr>,
    /// Relative to the directory of the config file.
    #[serde(default = "default_zones_dir")]
    pub zones_dir: PathBuf,
    /// UDP worker threads per address; 0 means one per core.
    #[serde(default)]
    pub threads: usize,
    /// Returned in the EDNS NSID option (RFC 5001) to clients that ask for it.
    #[serde(default, deserialize_with = "nsid")]
    pub nsid: Option<String>,
    /// The largest UDP response sent to an EDNS client, whatever larger size it offers.
    /// 1232 avoids IP fragmentation on every common path (DNS flag day 2020).
    #[serde(default = "default_max_udp_payload", deserialize_with = "udp_payload")]
    pub max_udp_payload: u16,
    /// A TCP connection with no complete query for this long is closed.
    #[serde(default = "default_tcp_idle_timeout", with = "duration_text")]
    pub tcp_idle_timeout: Duration,
    /// Connections past this many are closed at once, so a flood cannot starve UDP.
    #[serde(
        default = "default_tcp_max_connections",
        deserialize_with = "tcp_max_connections"
    )]
    pub tcp_max_connections: usize,
    /// TCP connections from one address; past that its oldest idle one is closed.
    #[serde(
        default = "default_tcp_max_connections_per_client",
        deserialize_with = "tcp_max_connections"
    )]
    pub tcp_max_connections_per_client: usize,
    /// The largest zone or policy file read (and each file it includes): a bound on what
    /// a mistake (or a file that keeps growing) can make a reload read. "2G", "500M", or
    /// bytes.
    #[serde(default = "default_max_zone_file_size", deserialize_with = "byte_size")]
    pub max_zone_file_size: u64,
}

fn default_tcp_max_connections_per_client() -> usize {
    16
}

fn default_max_zone_file_size() -> u64 {
    2 << 30
}

fn byte_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    let bad = |t: &str| {
        serde::de::Error::custom(format!(
            "{t:?}: write a size like \"2G\", \"500M\", \"64K\" or a number of bytes"
        ))
    };
    let bytes = match Size::deserialize(d)? {
        Size::Bytes(n) => n,
        Size::Text(t) => {
            let t = t.trim();
            let (digits, unit) =
                t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
            let shift = match unit.trim().to_ascii_uppercase().as_str() {
                "" | "B" => 0,
                "K" | "KB" | "KIB" => 10,
                "M" | "MB" | "MIB" => 20,
                "G" | "GB" | "GIB" => 30,
                _ => return Err(bad(t)),
            };
            digits
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(1 << shift))
                .ok_or_else(|| bad(t))?
        }
    };
    if bytes == 0 {
        return Err(serde::de::Error::custom(
            "max_zone_file_size must be more than 0",
        ));
    }
    Ok(bytes)
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match ok {
        true => String::from_utf8_lossy(&buf[..end]).into_owned(),
        false => "hadns".into(),
    }
}

fn default_gossip_listen() -> SocketAddr {
    ([0, 0, 0, 0], 8053).into()
}

fn yes() -> bool {
    true
}

fn default_listen() -> Vec<SocketAddr> {
    vec!["127.0.0.1:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
}
fn default_zones_dir() -> PathBuf {
    PathBuf::from("zones")
}
fn default_http_listen() -> SocketAddr {
    "127.0.0.1:9153".parse().unwrap()
}
fn default_state_file() -> PathBuf {
    PathBuf::from("state/health.json")
}
fn default_max_concurrent_probes() -> usize {
    256
}
fn default_max_udp_payload() -> u16 {
    1232
}
fn default_tcp_idle_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_tcp_max_connections() -> usize {
    256
}

/// Deserializes a value and checks it, so that toml reports a failed check at the
/// value's own line.
fn checked<'de, D, T>(
    d: D,
    check: impl FnOnce(&T) -> Result<(), &'static str>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v = T::deserialize(d)?;
    check(&v).map_err(serde::de::Error::custom)?;
    Ok(v)
}

fn regions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Region>, D::Error> {
    checked(d, |v: &Vec<Region>| {
        for (i, r) in v.iter().enumerate() {
            if r.id.is_empty() {
                return Err("a region needs an id");
            }
            if !r.location.is_valid() {
                return Err("region location: lat must be within -90..90 and lon within -180..180");
            }
            if v[..i].iter().any(|o| o.id == r.id) {
                return Err("two regions have the same id");
            }
        }
        Ok(())
    })
}

/// Name servers as `address:port`, `[v6]:port`, or an address alone (port 53).
fn servers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    let texts: Vec<String> = Vec::deserialize(d)?;
    texts
        .iter()
        .map(|t| {
            t.parse::<SocketAddr>()
                .or_else(|_| {
                    t.parse::<std::net::IpAddr>()
                        .map(|a| SocketAddr::new(a, 53))
                })
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{t:?} is not an address, or an address and port"
                    ))
                })
        })
        .collect()
}

/// Networks as `address/prefix`, or a lone address (a full-length prefix).
fn networks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let texts: Vec<String> = Vec::deserialize(d)?;
    texts
        .iter()
        .map(|t| {
            t.parse::<ipnet::IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| {
                    serde::de::Error::custom(format!("{t:?} is not an address or a network"))
                })
        })
        .collect()
}

fn listen<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    checked(d, |v: &Vec<SocketAddr>| match v.is_empty() {
        true => Err("listen is empty: nothing to serve on"),
        false => Ok(()),
    })
}

fn nsid<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |v: &Option<String>| match v {
        Some(n) if n.is_empty() || n.len() > 256 => Err("nsid must be 1 to 256 bytes"),
        _ => Ok(()),
    })
}

fn udp_payload<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    checked(d, |v: &u16| match (512..=4096).contains(v) {
        true => Ok(()),
        false => Err("max_udp_payload must be between 512 and 4096"),
    })
}

fn tcp_max_connections<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    checked(d, |v: &usize| match *v {
        0 => Err("must be at least 1"),
        _ => Ok(()),
    })
}

fn max_concurrent_probes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    checked(d, |v: &usize| match *v {
        0 => Err("max_concurrent_probes must be at least 1"),
        _ => Ok(()),
    })
}

impl Config {
    /// Reads and checks the config; the zones directory comes back absolute.
    pub fn load(path: &Path) -> Result<Config, Diagnostic> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::error(path, 1, format!("cannot read config: {e}")))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of_offset(&text, s.start));
            Diagnostic::error(path, line, e.message().to_string())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.server.zones_dir = base.join(&config.server.zones_dir);
        config.health.state_file = base.join(&config.health.state_file);
        if let Some(d) = &mut config.dnssec {
            d.keys_dir = base.join(&d.keys_dir);
        }
        let routing = &mut config.routing;
        for p in [
            &mut routing.geoip_db,
            &mut routing.latency_table,
            &mut config.http.token_file,
        ]
        .into_iter()
        .flatten()
        {
            *p = base.join(&*p);
        }
        config.read_tsig_keys(path, &text, base)?;
        config.read_token(path, &text)?;
        config.read_cluster_key(path, &text, base)?;
        Ok(config)
    }

    /// Reads the cluster key: a private file (as ssh demands of keys) holding
    /// `CLUSTER_KEY_LEN` bytes in base64.
    fn read_cluster_key(&mut self, path: &Path, text: &str, base: &Path) -> Result<(), Diagnostic> {
        let Some(cluster) = &mut self.cluster else {
            return Ok(());
        };
        cluster.key_file = base.join(&cluster.key_file);
        let at = text
            .find("key_file")
            .map_or(1, |at| line_of_offset(text, at));
        let file = &cluster.key_file;
        let error =
            |m: String| Diagnostic::error(path, at, format!("key_file {}: {m}", file.display()));
        let key = read_private(file).map_err(error)?;
        let key = crate::zone::text::base64(key.trim())
            .filter(|k| k.len() == CLUSTER_KEY_LEN)
            .ok_or_else(|| {
                error(format!(
                    "must hold {CLUSTER_KEY_LEN} bytes in base64 (head -c {CLUSTER_KEY_LEN} /dev/urandom | base64 makes one)"
                ))
            })?;
        cluster.key = Secret(key);
        if cluster.node.is_empty() || cluster.node.contains(|c: char| c.is_control()) {
            let at = text.find("node").map_or(1, |at| line_of_offset(text, at));
            return Err(Diagnostic::error(
                path,
                at,
                "[cluster] node: a name is needed",
            ));
        }
        Ok(())
    }

    /// Reads the API token: a file only its owner may read or write (as ssh demands of
    /// keys), holding at least `MIN_TOKEN` characters.
    fn read_token(&mut self, path: &Path, text: &str) -> Result<(), Diagnostic> {
        let Some(file) = &self.http.token_file else {
            if self.http.token_for_reads {
                let at = text
                    .find("token_for_reads")
                    .map_or(1, |at| line_of_offset(text, at));
                return Err(Diagnostic::error(
                    path,
                    at,
                    "token_for_reads needs a token_file",
                ));
            }
            return Ok(());
        };
        let at = text
            .find("token_file")
            .map_or(1, |at| line_of_offset(text, at));
        let error =
            |m: String| Diagnostic::error(path, at, format!("token_file {}: {m}", file.display()));
        let token = read_private(file).map_err(error)?;
        let token = token.trim();
        if token.chars().count() < MIN_TOKEN {
            return Err(error(format!(
                "the token must be at least {MIN_TOKEN} characters (openssl rand -hex 16 makes one)"
            )));
        }
        self.http.token = Some(Secret(token.as_bytes().to_vec()));
        Ok(())
    }

    /// Checks the `[[tsig_key]]`s and reads each secret; an error names the key's line.
    fn read_tsig_keys(&mut self, path: &Path, text: &str, base: &Path) -> Result<(), Diagnostic> {
        // A key's line: where its name is written after the first [[tsig_key]].
        let tables = text.find("[[tsig_key]]").unwrap_or(0);
        let line_of = |name: &str| {
            text[tables..]
                .find(&format!("\"{name}\""))
                .map_or(1, |at| line_of_offset(text, tables + at))
        };
        let mut names = Vec::new();
        for key in &mut self.tsig_keys {
            let at = line_of(&key.name);
            let error =
                |m: String| Diagnostic::error(path, at, format!("tsig_key {:?}: {m}", key.name));
            if names.contains(&key.name.to_ascii_lowercase()) {
                return Err(error("declared twice".into()));
            }
            names.push(key.name.to_ascii_lowercase());
            if !matches!(key.algorithm.as_str(), "hmac-sha256" | "hmac-sha512") {
                return Err(error(format!(
                    "algorithm {:?}: use hmac-sha256 or hmac-sha512",
                    key.algorithm
                )));
            }
            key.secret_file = base.join(&key.secret_file);
            let text = std::fs::read_to_string(&key.secret_file).map_err(|e| {
                error(format!(
                    "cannot read secret_file {}: {e}",
                    key.secret_file.display()
                ))
            })?;
            let secret = crate::zone::text::base64(text.trim()).filter(|s| !s.is_empty());
            key.secret = Secret(secret.ok_or_else(|| {
                error(format!(
                    "secret_file {} does not hold a base64 secret",
                    key.secret_file.display()
                ))
            })?);
        }
        if let Some(name) = &self.transfer.tsig_key {
            if !names.contains(&name.to_ascii_lowercase()) {
                let at = text
                    .find("tsig_key =")
                    .map_or(1, |at| line_of_offset(text, at));
                return Err(Diagnostic::error(
                    path,
                    at,
                    format!("[transfer] tsig_key {name:?}: no [[tsig_key]] has that name"),
                ));
            }
        }
        Ok(())
    }

    pub fn udp_threads(&self) -> usize {
        match self.server.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// Parses durations written as a number and a unit: `100ms`, `10s`, `5m`, `1h`.
/// A secret's file: refused when others may read or write it, as ssh refuses such keys.
fn read_private(file: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err("others may read or write it: chmod 600, as for an ssh key".into());
        }
    }
    std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| format!("duration {text:?} needs a unit (ms, s, m or h)"))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("bad duration {text:?}"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("bad duration unit in {text:?}: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration {text:?} is out of range"))
}

mod duration_text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10x").is_err());
    }

    #[test]
    fn errors_have_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hadns.toml");
        std::fs::write(&p, "[server]\nlisten = [\"127.0.0.1:53\"]\nbogus = 1\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        std::fs::write(&p, "[server]\nlisten = [\"not an address\"]\n").unwrap();
        assert_eq!(Config::load(&p).unwrap_err().line, 2);
        // A failed check is reported at the value, not at a comment naming the key.
        std::fs::write(
            &p,
            "# max_udp_payload = 1232\n[server]\n\nmax_udp_payload = 100\n",
        )
        .unwrap();
        let e = Config::load(&p).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("between 512 and 4096"), "{e}");
    }
}
