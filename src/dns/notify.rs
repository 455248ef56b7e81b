//! NOTIFY (RFC 1996). hadns is a primary and takes no NOTIFY: NOTIMP (§3.12 lets a
//! server that does not implement it say so), and an Extended DNS Error says why.

use super::{Asked, Handled, Sink};
use crate::dns::wire::RCODE_NOTIMP;

pub(super) fn answer(asked: &Asked<'_, '_>, sink: &mut impl Sink) -> Handled {
    // RFC 8914 §4.22: Not Supported.
    asked.declined(
        sink,
        RCODE_NOTIMP,
        (21, "hadns is a primary: NOTIFY is not taken"),
    )
}
