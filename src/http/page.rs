//! `GET /`: the status page, for a person. Plain HTML that works without JavaScript
//! (it refreshes itself every 10 s), one column on a phone: zones with serial and
//! content hash, every check with its status, observers, last result, latency and
//! recent transitions, overrides in effect, cluster nodes.

use std::fmt::Write;

use crate::cluster::View;
use crate::health::CheckReport;

/// What the page shows, gathered by the API.
pub struct Page<'a> {
    pub node: Option<&'a str>,
    pub ready: bool,
    /// Origin, serial, content hash (a cluster compares them; "-" alone).
    pub zones: Vec<(String, u32, String)>,
    pub checks: &'a [CheckReport],
    pub cluster: Option<View>,
}

const STYLE: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:1em;color:#222}\
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd;vertical-align:top}\
.healthy{color:#176f2c}.unhealthy{color:#b00020;font-weight:bold}.forced{background:#fff4d6}\
small{color:#666}code{font-size:.9em}\
@media (max-width:40em){table,thead,tbody,tr,th,td{display:block}thead{display:none}\
tr{margin-bottom:.8em;border:1px solid #ddd}td{border:0}}";

pub fn render(p: &Page<'_>) -> String {
    let mut h = String::with_capacity(4096 + p.checks.len() * 512);
    let title = match p.node {
        Some(n) => format!("hadns {n}"),
        None => "hadns".to_string(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"refresh\" content=\"10\"><title>{}</title><style>{STYLE}</style></head><body>\
<h1>{}</h1><p id=\"ready\">{}</p>",
        esc(&title),
        esc(&title),
        if p.ready {
            "Serving; the first round of health checks is done."
        } else {
            "Starting: the first round of health checks is not done."
        }
    );
    let unhealthy = p.checks.iter().filter(|c| c.status != "healthy").count();
    let forced = p.checks.iter().filter(|c| c.forced.is_some()).count();
    let _ = write!(
        h,
        "<p>{} checks: <span class=\"healthy\">{} healthy</span>, <span class=\"{}\">{} unhealthy</span>; {} overrides in effect.</p>",
        p.checks.len(),
        p.checks.len() - unhealthy,
        if unhealthy > 0 { "unhealthy" } else { "healthy" },
        unhealthy,
        forced
    );

    h.push_str("<h2>Health checks</h2><table id=\"checks\"><thead><tr><th>Check</th><th>Status</th><th>Last result</th><th>Recent changes</th></tr></thead><tbody>");
    for c in p.checks {
        let class = if c.forced.is_some() { " forced" } else { "" };
        let _ = write!(
            h,
            "<tr id=\"check-{}\" class=\"{}{class}\"><td><b>{}</b><br><small>{} {}</small></td>\
<td><span class=\"status {}\">{}</span><br><small>since {}</small>",
            esc(&c.id),
            c.status,
            esc(&c.id),
            esc(c.kind),
            esc(&c.target),
            c.status,
            c.status,
            esc(&c.since)
        );
        if let Some(f) = &c.forced {
            let _ = write!(
                h,
                "<br><small>forced {} until {}: {}</small>",
                f.status,
                esc(&f.expires),
                esc(&f.reason)
            );
        }
        if let Some(observers) = &c.observers {
            let seen: Vec<String> = observers
                .iter()
                .map(|o| {
                    format!(
                        "{} <span class=\"{}\">{}</span>",
                        esc(&o.node),
                        o.status,
                        o.status
                    )
                })
                .collect();
            let _ = write!(h, "<br><small>observers: {}</small>", seen.join(", "));
        }
        h.push_str("</td><td>");
        match &c.last_result {
            Some(r) => {
                let _ = write!(
                    h,
                    "{}<br><small>{} ms, {}</small>",
                    esc(&r.reason),
                    r.latency_ms,
                    esc(&r.at)
                );
            }
            None => h.push_str("<small>none here</small>"),
        }
        h.push_str("</td><td>");
        for t in c.transitions.iter().rev() {
            let _ = write!(
                h,
                "<small>{} → <span class=\"{}\">{}</span>: {}</small><br>",
                esc(&t.at),
                t.to,
                t.to,
                esc(&t.reason)
            );
        }
        h.push_str("</td></tr>");
    }
    h.push_str("</tbody></table>");

    h.push_str("<h2>Zones</h2><table id=\"zones\"><thead><tr><th>Zone</th><th>Serial</th><th>Content hash</th></tr></thead><tbody>");
    for (origin, serial, hash) in &p.zones {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{serial}</td><td><code>{}</code></td></tr>",
            esc(origin),
            esc(hash)
        );
    }
    h.push_str("</tbody></table>");

    if let Some(v) = &p.cluster {
        let _ = write!(
            h,
            "<h2>Cluster</h2><p id=\"alone\">{}</p>",
            if v.alone {
                "<span class=\"unhealthy\">Alone: no peer heard from; deciding health alone.</span>"
            } else {
                "Deciding health with its peers."
            }
        );
        h.push_str("<table id=\"nodes\"><thead><tr><th>Node</th><th>Address</th><th>State</th><th>Last seen</th></tr></thead><tbody>");
        for n in &v.nodes {
            let state = if n.alive { "healthy" } else { "unhealthy" };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"{state}\">{}</td><td>{}</td></tr>",
                esc(&n.name),
                esc(&n.address),
                if n.alive { "alive" } else { "dead" },
                esc(&n.last_seen)
            );
        }
        h.push_str("</tbody></table>");
        for (what, list) in [
            ("Zones", &v.divergent_zones),
            ("Checks", &v.divergent_checks),
        ] {
            if !list.is_empty() {
                let _ = write!(
                    h,
                    "<p class=\"unhealthy\">{what} that differ between nodes: {}</p>",
                    esc(&list.join(", "))
                );
            }
        }
    }
    h.push_str("<p><small>JSON: <a href=\"/api/v1/health-checks\">health checks</a> · <a href=\"/metrics\">metrics</a></small></p></body></html>\n");
    h
}

/// Text made safe inside HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
