//! NOTIFY (RFC 1996). hadns is a primary and takes no NOTIFY: NOTIMP (§3.12 lets a
//! server that does not implement it say so).

use super::{Asked, Handled, Sink};
use crate::dns::wire::RCODE_NOTIMP;

pub(super) fn answer(asked: &Asked<'_, '_>, sink: &mut impl Sink) -> Handled {
    asked.error(sink, RCODE_NOTIMP)
}
