//! Zone transfers (AXFR, IXFR). Not offered yet: REFUSED (RFC 5936 §4.2 allows it), with
//! the query's EDNS and an Extended DNS Error saying why.

use super::{Asked, Handled, Sink};
use crate::dns::wire::RCODE_REFUSED;

pub(super) fn answer(asked: &Asked<'_, '_>, sink: &mut impl Sink) -> Handled {
    // RFC 8914 §4.19: Prohibited.
    asked.declined(sink, RCODE_REFUSED, (18, "zone transfers are not offered"))
}
