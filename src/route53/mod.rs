//! Moving from Route 53 and back: `hadns import route53` and `hadns export route53`.
//!
//! - this file: the JSON shapes the AWS CLI prints and takes (API member names,
//!   PascalCase, reference §8), shared by both directions;
//! - `import`: `list-resource-record-sets` (+ `list-health-checks`, `list-cidr-blocks`)
//!   → the text of `<origin>.zone` and `<origin>.toml`;
//! - `export`: a loaded zone → a change batch, the `HealthCheckConfig`s to create and the
//!   CIDR collection's locations;
//! - `regions`: where the AWS regions are, for latency and geoproximity records.
//!
//! Both directions are pure (text in, text out); the command line reads and writes the
//! files. What cannot be carried over is returned as notes, never dropped silently.

pub mod export;
pub mod import;
pub mod regions;

use serde::{Deserialize, Serialize};

/// `list-resource-record-sets` output, or a change batch (so that an export can be read
/// back); the paging members tell a list that was cut short.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RecordSetList {
    pub resource_record_sets: Option<Vec<RecordSet>>,
    pub changes: Option<Vec<Change>>,
    pub comment: Option<String>,
    pub is_truncated: Option<bool>,
    pub max_items: Option<serde_json::Value>,
    pub next_token: Option<String>,
    pub next_record_name: Option<String>,
    pub next_record_type: Option<String>,
    pub next_record_identifier: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChangeBatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub changes: Vec<Change>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Change {
    pub action: String,
    pub resource_record_set: RecordSet,
}

/// A `ResourceRecordSet` (reference §1). Fields not set are left out, both ways.
#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RecordSet {
    pub name: String,
    #[serde(rename = "Type")]
    pub rtype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo_location: Option<GeoLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_value_answer: Option<bool>,
    #[serde(rename = "TTL", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_records: Option<Vec<ResourceRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_target: Option<AliasTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_policy_instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_routing_config: Option<CidrRoutingConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo_proximity_location: Option<GeoProximityLocation>,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResourceRecord {
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AliasTarget {
    pub hosted_zone_id: String,
    #[serde(rename = "DNSName")]
    pub dns_name: String,
    pub evaluate_target_health: bool,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GeoLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continent_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdivision_code: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CidrRoutingConfig {
    pub collection_id: String,
    pub location_name: String,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GeoProximityLocation {
    #[serde(rename = "AWSRegion", skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_zone_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<i64>,
}

/// Route 53 writes coordinates as strings of at most 6 (latitude) and 7 (longitude)
/// characters.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Coordinates {
    pub latitude: String,
    pub longitude: String,
}

/// `list-health-checks` output (`HealthChecks`), or `get-health-check` output
/// (`HealthCheck`).
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HealthCheckList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<HealthCheck>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_items: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HealthCheck {
    pub id: String,
    pub caller_reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_service: Option<serde_json::Value>,
    pub health_check_config: HealthCheckConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_watch_alarm_configuration: Option<serde_json::Value>,
}

/// `HealthCheckConfig` (reference §4 and §8.2): what `create-health-check` takes.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HealthCheckConfig {
    #[serde(rename = "IPAddress", skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fully_qualified_domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_interval: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_latency: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inverted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_threshold: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_health_checks: Option<Vec<String>>,
    #[serde(rename = "EnableSNI", skip_serializing_if = "Option::is_none")]
    pub enable_sni: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_identifier: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insufficient_data_health_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_control_arn: Option<String>,
}

/// `list-cidr-blocks` output, or the `--changes` of `change-cidr-collection` that an
/// export writes.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum CidrBlocks {
    Listed(CidrBlockList),
    Changes(Vec<CidrChange>),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CidrBlockList {
    pub cidr_blocks: Vec<CidrBlock>,
    pub next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CidrBlock {
    pub cidr_block: String,
    pub location_name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CidrChange {
    pub location_name: String,
    pub action: String,
    pub cidr_list: Vec<String>,
}

/// Route 53 escapes every octet of a name other than `a-z 0-9 - _ .` as `\ooo`
/// (octal), and TXT values the same way; zone files write `\DDD` (decimal). A name or
/// value as a zone file writes it: `\052` → `*`, other octal escapes → decimal.
pub fn from_octal_escapes(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let octal = b
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
            if let Some(d) = octal {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                match v {
                    0x2a => out.push('*'),
                    v => out.push_str(&format!("\\{v:03}")),
                }
                i += 4;
                continue;
            }
            // `\X`: copied with what it escapes.
            out.push('\\');
            if let Some(c) = s[i + 1..].chars().next() {
                out.push(c);
                i += 1 + c.len_utf8();
            } else {
                i += 1;
            }
            continue;
        }
        let c = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// A character-string as Route 53 takes it: quoted, `"` and `\` escaped, every octet
/// outside printable ASCII as `\ooo` (octal).
pub fn quoted_octal(octets: &[u8]) -> String {
    let mut out = String::with_capacity(octets.len() + 2);
    out.push('"');
    for &o in octets {
        match o {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(o as char);
            }
            0x20..=0x7e => out.push(o as char),
            _ => out.push_str(&format!("\\{o:03o}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_escapes_become_zone_file_escapes() {
        assert_eq!(from_octal_escapes("\\052.example.com."), "*.example.com.");
        assert_eq!(from_octal_escapes("a\\040b"), "a\\032b");
        assert_eq!(
            from_octal_escapes("\"say \\\"hi\\\"\""),
            "\"say \\\"hi\\\"\""
        );
        assert_eq!(from_octal_escapes("\"caf\\303\\251\""), "\"caf\\195\\169\"");
        // Not octal: left as it is.
        assert_eq!(from_octal_escapes("\\089"), "\\089");
    }

    #[test]
    fn character_strings_are_quoted_with_octal_escapes() {
        assert_eq!(quoted_octal(b"v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(quoted_octal(b"a\"b\\c\n\xc3"), "\"a\\\"b\\\\c\\012\\303\"");
    }
}
