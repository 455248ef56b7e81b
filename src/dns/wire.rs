//! The numbers of the DNS wire format that hadns reads and writes itself.

/// RFC 1035 §4.1.1: the header's length.
pub const HEADER_LEN: usize = 12;
/// Largest DNS message; TCP responses may use all of it.
pub const MAX_MESSAGE: usize = 65535;
/// RFC 1035 §4.2.1: UDP without EDNS.
pub const PLAIN_UDP: usize = 512;

pub const CLASS_IN: u16 = 1;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_TSIG: u16 = 250;
pub const CLASS_CH: u16 = 3;
pub const CLASS_ANY: u16 = 255;

pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_NOTIFY: u8 = 4;

pub const RCODE_FORMERR: u16 = 1;
pub const RCODE_NOTIMP: u16 = 4;
pub const RCODE_REFUSED: u16 = 5;
pub const RCODE_NOTAUTH: u16 = 9;
/// RFC 8945 §5.2: TSIG errors: a MAC that does not verify, a key the server does not
/// know, a time out of the fudge.
pub const TSIG_BADSIG: u16 = 16;
pub const TSIG_BADKEY: u16 = 17;
pub const TSIG_BADTIME: u16 = 18;
/// RFC 6891 §7: BADVERS is 16: 1 in the OPT's extended rcode, 0 in the header.
pub const BADVERS_HIGH: u8 = 1;

/// EDNS option codes acted on: NSID (RFC 5001) and Client Subnet (RFC 7871).
pub const OPT_NSID: u16 = 3;
pub const OPT_CLIENT_SUBNET: u16 = 8;
/// DNS Cookies (RFC 7873).
pub const OPT_COOKIE: u16 = 10;
/// Extended DNS Errors (RFC 8914).
pub const OPT_EDE: u16 = 15;
