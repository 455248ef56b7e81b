//! Zone transfers (AXFR, IXFR). Not offered yet: REFUSED (RFC 5936 §4.2 allows it), with
//! the query's EDNS.

use super::{Asked, Handled, Sink};
use crate::dns::wire::RCODE_REFUSED;

pub(super) fn answer(asked: &Asked<'_, '_>, sink: &mut impl Sink) -> Handled {
    asked.error(sink, RCODE_REFUSED)
}
