//! A cluster of three nodes, each in its own network namespace, joined by a bridge in
//! the test's own network (198.18.0.0/24): the test at .1, the endpoint it runs at .2,
//! nodes at .11, .12, .13. Paths are cut with blackhole routes inside a node's namespace.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::endpoint::{status, Endpoint};
use common::{dig_at, http_request_to, wait_for};

const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n";
const TOKEN: &str = "cluster-test-token-0123456789";
/// Probe interval and failure threshold of the test's check.
const INTERVAL: Duration = Duration::from_secs(1);
const THRESHOLD: u32 = 2;
const PRIMARY: &str = "192.0.2.10";
/// Where the endpoint is reached (the test itself is at 198.18.0.1).
const ENDPOINT: &str = "198.18.0.2";
const SECONDARY: &str = "192.0.2.20";

static NETS: AtomicUsize = AtomicUsize::new(0);

fn can_run() -> bool {
    common::can_run(
        "cluster tests need root and iproute2",
        common::is_root() && common::installed("ip"),
    )
}

fn ip(args: &str) {
    let ok = Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip {args}");
}

/// The bridge and each node's namespace; removed on drop.
struct Net {
    names: Vec<String>,
}

impl Net {
    /// `nodes` namespaces, each with a veth into the test's bridge.
    fn new(nodes: usize) -> Net {
        common::private_network();
        ip("link add br0 type bridge");
        ip("addr add 198.18.0.1/24 dev br0");
        ip(&format!("addr add {ENDPOINT}/24 dev br0"));
        ip("link set br0 up");
        let n = NETS.fetch_add(1, Ordering::SeqCst);
        let mut names = Vec::new();
        for i in 1..=nodes {
            let name = format!("hadns-{}-{n}-{i}", std::process::id());
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(Stdio::null())
                .status();
            ip(&format!("netns add {name}"));
            ip(&format!(
                "link add v{i} type veth peer name eth0 netns {name}"
            ));
            ip(&format!("link set v{i} master br0"));
            ip(&format!("link set v{i} up"));
            let inside = |cmd: &str| ip(&format!("netns exec {name} ip {cmd}"));
            inside("link set lo up");
            inside(&format!("addr add {}/24 dev eth0", addr(i)));
            inside("link set eth0 up");
            names.push(name);
        }
        Net { names }
    }

    /// Drops what node `i` sends to `to` (a blackhole route in its namespace).
    fn cut(&self, i: usize, to: &str) {
        ip(&format!(
            "netns exec {} ip route add blackhole {to}/32",
            self.names[i - 1]
        ));
    }

    fn heal(&self, i: usize, to: &str) {
        ip(&format!(
            "netns exec {} ip route del blackhole {to}/32",
            self.names[i - 1]
        ));
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn addr(i: usize) -> String {
    format!("198.18.0.{}", 10 + i)
}

/// One node: its directory, config and process.
struct Node {
    i: usize,
    dir: tempfile::TempDir,
    ns: String,
    child: Option<Child>,
}

fn zone_file() -> String {
    common::zone("example.com", "")
}

fn policy_file(endpoint_port: u16, extra: &str) -> String {
    format!(
        r#"[[health_check]]
id = "web"
type = "http"
ip = "{ENDPOINT}"
port = {endpoint_port}
path = "/"
interval = "{}s"
failure_threshold = {THRESHOLD}

[[record]]
name = "www"
type = "A"
ttl = 5
set_id = "primary"
failover = "primary"
values = ["{PRIMARY}"]
health_check = "web"

[[record]]
name = "www"
type = "A"
ttl = 5
set_id = "secondary"
failover = "secondary"
values = ["{SECONDARY}"]
{extra}"#,
        INTERVAL.as_secs()
    )
}

impl Node {
    fn new(net: &Net, i: usize, nodes: usize, quorum: &str, policy: &str) -> Node {
        Node::with(
            net,
            i,
            nodes,
            &format!("health_quorum = \"{quorum}\""),
            policy,
        )
    }

    /// `cluster`: more lines of its `[cluster]`.
    fn with(net: &Net, i: usize, nodes: usize, cluster: &str, policy: &str) -> Node {
        Node::with_keys(net, i, nodes, cluster, policy, None)
    }

    /// As [`Node::with`], signing with the key files in `keys` (copied into its own
    /// `keys/`, as each host of a cluster has the same files).
    fn with_keys(
        net: &Net,
        i: usize,
        nodes: usize,
        cluster: &str,
        policy: &str,
        keys: Option<&Path>,
    ) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let seeds: Vec<String> = (1..=nodes)
            .filter(|&j| j != i)
            .map(|j| format!("\"{}:8053\"", addr(j)))
            .collect();
        let config = format!(
            r#"[server]
listen = ["{a}:53"]
zones_dir = "zones"
threads = 1

[http]
listen = "{a}:8080"
token_file = "token"

[cluster]
node = "ns{i}"
listen = "{a}:8053"
seeds = [{seeds}]
key_file = "cluster.key"
{cluster}
"#,
            a = addr(i),
            seeds = seeds.join(", ")
        );
        std::fs::write(dir.path().join("hadns.toml"), config).unwrap();
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        std::fs::write(dir.path().join("zones/example.com.zone"), zone_file()).unwrap();
        std::fs::write(dir.path().join("zones/example.com.toml"), policy).unwrap();
        for (name, text) in [("cluster.key", KEY), ("token", TOKEN)] {
            private_file(&dir.path().join(name), text);
        }
        if let Some(keys) = keys {
            let own = dir.path().join("keys");
            std::fs::create_dir(&own).unwrap();
            for entry in std::fs::read_dir(keys).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                private_file(&own.join(path.file_name().unwrap()), &text);
            }
            let config = dir.path().join("hadns.toml");
            let text = std::fs::read_to_string(&config).unwrap();
            std::fs::write(config, text + "\n[dnssec]\nkeys_dir = \"keys\"\n").unwrap();
        }
        let mut node = Node {
            i,
            dir,
            ns: net.names[i - 1].clone(),
            child: None,
        };
        node.start();
        node
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("hadns.log"))
            .unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                common::hadns_bin(),
                "serve",
                "--config",
            ])
            .arg(self.dir.path().join("hadns.toml"))
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let server = addr(self.i);
        wait_for(&format!("node {} to answer", self.i), || {
            self.healthz()
                && !dig_at(&server, 53, "www.example.com A")
                    .answer_data("A")
                    .is_empty()
        });
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.start();
    }

    fn healthz(&self) -> bool {
        let a: SocketAddr = format!("{}:8080", addr(self.i)).parse().unwrap();
        std::net::TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok()
            && http_request_to(a, "GET", "/healthz", None, "").0 == 200
    }

    fn http(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let a: SocketAddr = format!("{}:8080", addr(self.i)).parse().unwrap();
        http_request_to(a, method, path, token, body)
    }

    fn json(&self, path: &str) -> serde_json::Value {
        let (code, body) = self.http("GET", path, None, "");
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn cluster(&self) -> serde_json::Value {
        self.json("/api/v1/cluster")
    }

    fn check(&self) -> serde_json::Value {
        let all = self.json("/api/v1/health-checks");
        all["health_checks"][0].clone()
    }

    /// The addresses this node answers for www.
    fn www(&self) -> Vec<String> {
        dig_at(&addr(self.i), 53, "www.example.com A").answer_data("A")
    }

    fn metrics(&self) -> String {
        self.http("GET", "/metrics", None, "").1
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hadns.log")).unwrap_or_default()
    }

    /// The observers of the check this node counts, by node name → status.
    fn observers(&self) -> Vec<(String, String)> {
        self.check()["observers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| {
                        (
                            o["node"].as_str().unwrap().to_string(),
                            o["status"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn private_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Three nodes on one endpoint, all seeing each other.
fn cluster(quorum: &str) -> (Net, Endpoint, Vec<Node>) {
    let net = Net::new(3);
    let endpoint = Endpoint::http_any(status(200));
    let policy = policy_file(endpoint.port, "");
    let nodes: Vec<Node> = (1..=3)
        .map(|i| Node::new(&net, i, 3, quorum, &policy))
        .collect();
    for n in &nodes {
        wait_for("every node to see three observers", || {
            n.observers().len() == 3
        });
    }
    (net, endpoint, nodes)
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn every_node_fails_over_together_and_back() {
    if !can_run() {
        return;
    }
    let (_net, mut endpoint, nodes) = cluster("route53");
    for n in &nodes {
        assert_eq!(n.www(), [PRIMARY]);
        let c = n.cluster();
        assert_eq!(c["alone"], false, "{c}");
        assert_eq!(c["nodes"].as_array().unwrap().len(), 3, "{c}");
        assert!(
            c["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["alive"] == true),
            "{c}"
        );
        assert_eq!(c["divergent_zones"].as_array().unwrap().len(), 0, "{c}");
        let m = n.metrics();
        assert_eq!(
            metric(&m, "hadns_cluster_nodes{state=\"alive\"}"),
            Some(3.0),
            "{m}"
        );
        assert_eq!(metric(&m, "hadns_cluster_alone"), Some(0.0));
        assert_eq!(
            metric(
                &m,
                "hadns_health_check_observers{check=\"web\",status=\"healthy\"}"
            ),
            Some(3.0)
        );
    }

    // The endpoint stops: each node fails over within interval × threshold + 1 s.
    let limit = INTERVAL * THRESHOLD + Duration::from_secs(1);
    endpoint.stop();
    let stopped = Instant::now();
    let mut switched = [None; 3];
    while switched.iter().any(|s| s.is_none()) && stopped.elapsed() < limit * 3 {
        for (i, n) in nodes.iter().enumerate() {
            if switched[i].is_none() && n.www() == [SECONDARY] {
                switched[i] = Some(stopped.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for (i, s) in switched.iter().enumerate() {
        let s = s.unwrap_or_else(|| panic!("node {} never failed over", i + 1));
        assert!(
            s <= limit,
            "node {} failed over after {s:?} (limit {limit:?})",
            i + 1
        );
    }
    // Every observer saw it, and explain names them.
    assert!(nodes[0].observers().iter().all(|(_, s)| s == "unhealthy"));
    let explained = nodes[1].json("/api/v1/explain?name=www.example.com&type=A");
    let observers = explained["health_checks"][0]["observers"]
        .as_array()
        .unwrap();
    assert_eq!(observers.len(), 3, "{explained}");
    assert!(
        observers.iter().all(|o| o["status"] == "unhealthy"),
        "{explained}"
    );

    endpoint.start();
    for n in &nodes {
        wait_for("every node to fail back", || n.www() == [PRIMARY]);
    }
}

/// The endpoint unreachable from node 3 only: Route 53's quorum and a majority keep the
/// primary everywhere; `all` fails over everywhere.
fn one_node_cut_from_endpoint(quorum: &str) -> Vec<Vec<String>> {
    let (net, _endpoint, nodes) = cluster(quorum);
    net.cut(3, ENDPOINT);
    for n in &nodes {
        wait_for("every node to hear that ns3 sees the endpoint down", || {
            n.observers()
                .iter()
                .any(|(node, s)| node == "ns3" && s == "unhealthy")
        });
    }
    // Give the decision a publication round to land everywhere.
    wait_for("all observers counted", || {
        nodes.iter().all(|n| n.observers().len() == 3)
    });
    nodes.iter().map(|n| n.www()).collect()
}

#[test]
fn one_node_cut_from_the_endpoint_fails_nothing_over_by_route53_quorum() {
    if !can_run() {
        return;
    }
    for answers in one_node_cut_from_endpoint("route53") {
        assert_eq!(answers, [PRIMARY]);
    }
}

#[test]
fn one_node_cut_from_the_endpoint_fails_nothing_over_by_majority() {
    if !can_run() {
        return;
    }
    for answers in one_node_cut_from_endpoint("majority") {
        assert_eq!(answers, [PRIMARY]);
    }
}

#[test]
fn one_node_cut_from_the_endpoint_fails_everything_over_when_all_must_agree() {
    if !can_run() {
        return;
    }
    for answers in one_node_cut_from_endpoint("all") {
        assert_eq!(answers, [SECONDARY]);
    }
}

#[test]
fn a_node_cut_off_from_its_peers_decides_alone_then_converges() {
    if !can_run() {
        return;
    }
    let (net, mut endpoint, nodes) = cluster("route53");
    // Cut node 3 off from its peers, and its view of the endpoint with it: alone, it
    // decides from its own observation.
    for peer in [1, 2] {
        net.cut(3, &addr(peer));
        net.cut(peer, &addr(3));
    }
    wait_for("node 3 to say it is alone", || {
        nodes[2].cluster()["alone"] == true
    });
    assert_eq!(
        metric(&nodes[2].metrics(), "hadns_cluster_alone"),
        Some(1.0)
    );
    assert!(nodes[2].log().contains("deciding health alone"));
    assert_eq!(
        nodes[2].observers(),
        [("ns3".to_string(), "healthy".to_string())]
    );
    wait_for("its peers to see it dead", || {
        nodes[0].cluster()["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "ns3" && n["alive"] == false)
    });
    // Alone, it follows its own probes.
    endpoint.stop();
    wait_for("node 3 to fail over on its own", || {
        nodes[2].www() == [SECONDARY]
    });
    endpoint.start();
    wait_for("node 3 to fail back on its own", || {
        nodes[2].www() == [PRIMARY]
    });
    // Healed, it converges: three observers again, everywhere.
    for peer in [1, 2] {
        net.heal(3, &addr(peer));
        net.heal(peer, &addr(3));
    }
    wait_for("node 3 to rejoin", || nodes[2].cluster()["alone"] == false);
    for n in &nodes {
        wait_for("three observers everywhere", || n.observers().len() == 3);
        assert_eq!(n.www(), [PRIMARY]);
    }
    assert!(nodes[2].log().contains("deciding health together"));
}

#[test]
fn an_override_or_a_reload_asked_of_one_node_holds_on_every_node() {
    if !can_run() {
        return;
    }
    let (_net, _endpoint, mut nodes) = cluster("route53");
    let body = r#"{"status":"unhealthy","ttl":"12s","reason":"maintenance"}"#;
    let (code, reply) = nodes[0].http(
        "PUT",
        "/api/v1/health-checks/web/override",
        Some(TOKEN),
        body,
    );
    assert_eq!(code, 200, "{reply}");
    for n in &nodes {
        wait_for("the override everywhere", || n.www() == [SECONDARY]);
        let forced = &n.check()["forced"];
        assert_eq!(forced["reason"], "maintenance", "{forced}");
    }
    // Kept in node 3's own overrides file, and in effect after its restart.
    let file = nodes[2].dir.path().join("state/overrides.json");
    let file = if file.exists() {
        file
    } else {
        nodes[2].dir.path().join("overrides.json")
    };
    let saved = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(saved.contains("maintenance"), "{}: {saved}", file.display());
    nodes[2].restart();
    assert_eq!(nodes[2].www(), [SECONDARY]);
    // A reload asked of one node is done by every node.
    let (code, reply) = nodes[0].http("POST", "/api/v1/reload", Some(TOKEN), "");
    assert_eq!(code, 200, "{reply}");
    for n in &nodes[1..] {
        wait_for("every node to reload", || {
            n.log().contains("API of node ns1")
        });
    }
    // Its expiry ends it everywhere.
    for n in &nodes {
        wait_for("the override to expire everywhere", || n.www() == [PRIMARY]);
        assert!(n.check()["forced"].is_null());
    }
}

#[test]
fn a_node_with_another_policy_file_is_reported_divergent_everywhere() {
    if !can_run() {
        return;
    }
    let net = Net::new(3);
    let endpoint = Endpoint::http_any(status(200));
    let same = policy_file(endpoint.port, "");
    let other = policy_file(
        endpoint.port,
        "\n[[record]]\nname = \"api\"\ntype = \"A\"\nttl = 5\nset_id = \"one\"\nweight = 1\nvalues = [\"192.0.2.30\"]\n",
    );
    let nodes: Vec<Node> = (1..=3)
        .map(|i| Node::new(&net, i, 3, "route53", if i == 3 { &other } else { &same }))
        .collect();
    for n in &nodes {
        wait_for("every node to report example.com divergent", || {
            n.cluster()["divergent_zones"] == serde_json::json!(["example.com."])
        });
        assert_eq!(
            metric(&n.metrics(), "hadns_cluster_divergent_zones"),
            Some(1.0)
        );
        // Each keeps serving its own.
        assert_eq!(n.www(), [PRIMARY]);
    }
    assert!(
        nodes[0].log().contains("files differ"),
        "{}",
        nodes[0].log()
    );
}

#[test]
fn forged_stale_and_replayed_gossip_is_dropped_and_counted() {
    if !can_run() {
        return;
    }
    use chitchat::Serializable;
    use hadns::cluster::seal::Seal;
    let (_net, _endpoint, nodes) = cluster("route53");
    let rejected = |n: &Node| {
        metric(
            &n.metrics(),
            "hadns_cluster_messages_total{result=\"rejected\"}",
        )
        .unwrap_or(0.0)
    };
    let before = rejected(&nodes[0]);
    let before_check = nodes[0].check()["status"].clone();
    let to = format!("{}:8053", addr(1));
    let socket = UdpSocket::bind("198.18.0.1:0").unwrap();
    let key = hadns::zone::text::base64(KEY.trim()).unwrap();
    let message = chitchat::ChitchatMessage::BadCluster.serialize_to_vec();
    let good = Seal::new(&key).seal(&message);
    let forged = [
        b"garbage".to_vec(),
        vec![1u8; 300],
        Seal::new(&[9u8; 32]).seal(&message), // another key
        Seal::new(&key).seal_at(
            &message,
            std::time::SystemTime::now() - Duration::from_secs(40),
        ),
    ];
    for f in &forged {
        socket.send_to(f, &to).unwrap();
    }
    socket.send_to(&good, &to).unwrap();
    socket.send_to(&good, &to).unwrap(); // the replay
    wait_for("five rejections counted", || {
        rejected(&nodes[0]) >= before + 5.0
    });
    assert_eq!(rejected(&nodes[0]), before + 5.0);
    assert_eq!(nodes[0].check()["status"], before_check);
    assert_eq!(nodes[0].cluster()["nodes"].as_array().unwrap().len(), 3);
    for n in &nodes {
        assert_eq!(n.www(), [PRIMARY]);
    }
}

#[test]
fn a_node_restarting_in_steady_state_flaps_no_answer() {
    if !can_run() {
        return;
    }
    let (_net, _endpoint, mut nodes) = cluster("route53");
    let stop = Arc::new(AtomicBool::new(false));
    // (node, the addresses it answered)
    type Seen = Vec<(usize, Vec<String>)>;
    let seen: Arc<std::sync::Mutex<Seen>> = Default::default();
    let watchers: Vec<_> = (1..=3)
        .map(|i| {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let answer =
                        dig_at(&addr(i), 53, "www.example.com A +tries=1 +time=1").answer_data("A");
                    seen.lock().unwrap().push((i, answer));
                }
            })
        })
        .collect();
    nodes[1].restart();
    wait_for("node 2 to count three observers again", || {
        nodes[1].observers().len() == 3
    });
    stop.store(true, Ordering::SeqCst);
    for w in watchers {
        w.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 30, "{} answers", seen.len());
    for (i, answer) in seen.iter() {
        // A node that is down answers nothing; one that answers gives the primary.
        assert!(
            answer.is_empty() && *i == 2 || answer == &[PRIMARY],
            "node {i} answered {answer:?}"
        );
    }
}

#[test]
fn a_node_that_does_not_probe_follows_its_peers() {
    if !can_run() {
        return;
    }
    let net = Net::new(2);
    let mut endpoint = Endpoint::http_any(status(200));
    let policy = policy_file(endpoint.port, "");
    let prober = Node::new(&net, 1, 2, "route53", &policy);
    let follower = Node::with(&net, 2, 2, "probe = false", &policy);
    wait_for("the follower to count the prober's observation", || {
        follower.observers() == [("ns1".to_string(), "healthy".to_string())]
    });
    assert_eq!(prober.observers().len(), 1, "the follower observes nothing");
    assert!(
        follower.check()["last_result"].is_null(),
        "and probes nothing"
    );
    endpoint.stop();
    wait_for("the follower to fail over", || {
        follower.www() == [SECONDARY]
    });
    endpoint.start();
    wait_for("the follower to fail back", || follower.www() == [PRIMARY]);
    assert_eq!(prober.www(), [PRIMARY]);
}

#[test]
fn a_cluster_key_others_can_read_is_refused() {
    let dir = common::config_dir(
        &[("example.com.zone", &zone_file())],
        "[cluster]\nnode = \"ns1\"\nkey_file = \"cluster.key\"\n",
    );
    let key: PathBuf = dir.path().join("cluster.key");
    std::fs::write(&key, KEY).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    common::assert_check_error(
        &dir.path().join("hadns.toml"),
        "hadns.toml",
        6,
        "others may read or write it",
    );
    private_file(&key, "c2hvcnQ=\n");
    common::assert_check_error(&dir.path().join("hadns.toml"), "hadns.toml", 6, "32 bytes");
    private_file(&key, KEY);
    let (ok, out) = common::check(&dir.path().join("hadns.toml"));
    assert!(ok, "{out}");
}

/// The nodes of a cluster share the key files, as they share the zone files, and sign
/// alike: the same DNSKEY set and the same NSEC3 chain from each, every answer from each
/// validated by delv with the one DS; a failover decided together validates on every
/// node, before and after.
#[test]
fn the_nodes_of_a_cluster_share_keys_and_sign_alike() {
    use hadns::dnssec::key::{generate, unix_now, Algorithm};
    if !can_run() || !common::can_run("delv (bind9-dnsutils)", common::installed("delv")) {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let origin = hickory_proto::rr::Name::from_ascii("example.com.").unwrap();
    let key = generate(
        keys.path(),
        &origin,
        Algorithm::EcdsaP256Sha256,
        257,
        unix_now(),
    )
    .unwrap();
    let f: Vec<String> = key.ds_text().split_whitespace().map(String::from).collect();
    let anchors = keys.path().join("anchors.conf");
    let net = Net::new(3);
    let mut endpoint = Endpoint::http_any(status(200));
    let policy = policy_file(endpoint.port, "");
    let cluster = "health_quorum = \"route53\"";
    let nodes: Vec<Node> = (1..=3)
        .map(|i| Node::with_keys(&net, i, 3, cluster, &policy, Some(keys.path())))
        .collect();
    // Written after the nodes copied the key files: not a key file.
    std::fs::write(
        &anchors,
        format!(
            "trust-anchors {{\n  example.com. static-ds {} {} {} \"{}\";\n}};\n",
            f[f.len() - 4],
            f[f.len() - 3],
            f[f.len() - 2],
            f[f.len() - 1]
        ),
    )
    .unwrap();
    let delv = |n: &Node, question: &str| {
        let out = Command::new("delv")
            .arg(format!("@{}", addr(n.i)))
            .arg("-a")
            .arg(&anchors)
            .arg("+root=example.com")
            .args(question.split_whitespace())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    // What must be the same from every node: the DNSKEY set and the chain's records.
    let alike = |n: &Node| {
        let mut records: Vec<String> = ["example.com DNSKEY", "nope.example.com A"]
            .iter()
            .flat_map(|q| {
                let d = dig_at(&addr(n.i), 53, &format!("+dnssec {q}"));
                d.answer
                    .into_iter()
                    .chain(d.authority)
                    .filter(|r| r.rtype != "RRSIG")
                    .map(|r| format!("{} {} {}", r.name, r.rtype, r.data))
            })
            .collect();
        records.sort();
        records
    };
    let first = alike(&nodes[0]);
    assert!(first.iter().any(|r| r.contains("NSEC3")), "{first:?}");
    for n in &nodes {
        assert_eq!(alike(n), first, "node {}", n.i);
        for question in [
            "www.example.com A",
            "nope.example.com A",
            "example.com DNSKEY",
        ] {
            let said = delv(n, question);
            assert!(
                said.contains("fully validated"),
                "node {} {question}: {said}",
                n.i
            );
        }
    }
    // Every node answers `address`, validated.
    let validated_everywhere = |what: &str, address: &str| {
        for n in &nodes {
            wait_for(what, || n.www() == [address]);
            let said = delv(n, "www.example.com A");
            assert!(
                said.contains("fully validated") && said.contains(address),
                "node {}: {said}",
                n.i
            );
        }
    };
    endpoint.stop();
    validated_everywhere("every node to fail over", SECONDARY);
    endpoint.start();
    validated_everywhere("every node to fail back", PRIMARY);
}
