//! DNS over TCP (RFC 7766): length-prefixed messages, any number per connection,
//! answered in order from the same prepared answers as UDP. The queries one read brings
//! are answered together and their responses (one each, or many for a zone transfer)
//! written with one write.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, timeout_at, Instant};

use super::accept::{accept_bounded, Limits, Slot};
use super::DnsService;
use crate::dns::{Local, Sink, Transport};
use crate::draw::Draw;

/// The messages of one query's response, framed for TCP: each behind its two-octet
/// length.
#[derive(Default)]
struct Frames {
    /// Framed messages, ready to write.
    framed: Vec<u8>,
    /// The message being written, framed when the next one starts or on `finish`.
    current: Vec<u8>,
    open: bool,
}

impl Frames {
    fn frame_current(&mut self) {
        if std::mem::take(&mut self.open) {
            self.framed
                .extend_from_slice(&(self.current.len() as u16).to_be_bytes());
            self.framed.extend_from_slice(&self.current);
        }
    }

    /// Every message, framed; empty when nothing is to be sent.
    fn finish(&mut self) -> &[u8] {
        self.frame_current();
        &self.framed
    }

    fn clear(&mut self) {
        self.framed.clear();
        self.open = false;
    }

    /// How much is framed so far.
    fn len(&self) -> usize {
        self.framed.len()
    }

    /// Where one query's replies start, to take them back if it gets none.
    fn mark(&mut self) -> usize {
        self.frame_current();
        self.framed.len()
    }

    fn rollback(&mut self, mark: usize) {
        self.framed.truncate(mark);
        self.open = false;
    }
}

impl Sink for Frames {
    fn next_message(&mut self) -> &mut Vec<u8> {
        self.frame_current();
        self.current.clear();
        self.open = true;
        &mut self.current
    }
}

/// Serves DNS over TCP on `listener`, within `limits` (see [`accept_bounded`]).
pub async fn serve_tcp(
    listener: TcpListener,
    service: Arc<DnsService>,
    idle_timeout: Duration,
    limits: Limits,
) {
    accept_bounded(listener, limits, "dns", |stream, peer, slot| {
        let service = service.clone();
        async move { connection(stream, peer.ip(), &service, idle_timeout, slot).await }
    })
    .await
}

/// The largest framed query: its two-octet length and 65,535 octets.
const MAX_FRAME: usize = 2 + 65535;
/// Replies gathered before they are written, when a client pipelines many queries.
const WRITE_AT: usize = 64 * 1024;

/// RFC 7766: length-prefixed messages, any number per connection, answered in order;
/// the connection closes after `idle_timeout` without a complete query, or when, idle,
/// its slot is needed by a newcomer. Every query a read brings is answered, and the
/// replies written together (RFC 7766 §6.2.1.1: pipelining).
async fn connection(
    mut stream: TcpStream,
    peer: std::net::IpAddr,
    service: &DnsService,
    idle_timeout: Duration,
    slot: Slot,
) {
    let _ = stream.set_nodelay(true);
    let mut input = Input::default();
    let mut frames = Frames::default();
    // When the query now half-read began: it must be whole within `idle_timeout`.
    let mut partial_since: Option<Instant> = None;
    loop {
        frames.clear();
        while let Some(query) = input.next_query() {
            if query.is_empty() {
                return;
            }
            partial_since = None;
            let mark = frames.mark();
            let snapshot = service.live.load();
            let reply = with_local(|local| {
                catch_unwind(AssertUnwindSafe(|| {
                    service.responder.handle(
                        query,
                        Transport::Tcp,
                        peer,
                        &snapshot,
                        local,
                        &mut frames,
                    )
                }))
                .inspect(|_| local.flush_counts())
                .inspect_err(|_| local.cache = None)
            });
            match reply {
                Ok(true) => {}
                Ok(false) => frames.rollback(mark),
                Err(_) => {
                    tracing::error!(
                        "internal error while answering a TCP query; connection closed"
                    );
                    return;
                }
            }
            if frames.len() >= WRITE_AT {
                break;
            }
        }
        let replies = frames.finish();
        if !replies.is_empty()
            && !matches!(
                timeout(idle_timeout, stream.write_all(replies)).await,
                Ok(Ok(_))
            )
        {
            return;
        }
        if input.has_query() {
            continue;
        }
        // Idle between queries; busy while one is half-read.
        let idle = input.is_empty();
        let deadline = if idle {
            partial_since = None;
            slot.idle();
            Instant::now() + idle_timeout
        } else {
            slot.busy();
            *partial_since.get_or_insert_with(Instant::now) + idle_timeout
        };
        let room = input.room();
        let read = tokio::select! {
            read = timeout_at(deadline, stream.read(room)) => read,
            _ = slot.closing(), if idle => return,
        };
        match read {
            Ok(Ok(n)) if n > 0 => input.filled(n),
            _ => return,
        }
        slot.busy();
    }
}

thread_local! {
    /// The answer cache and randomness of the runtime thread a connection runs on:
    /// TCP answers come from the same prepared answers as UDP's.
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> R {
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        let local = local.get_or_insert_with(|| Local::new(Draw::from_entropy(), true));
        if local.cache.is_none() {
            local.cache = Some(Default::default());
        }
        f(local)
    })
}

/// Bytes read from a connection, not yet answered.
struct Input {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for Input {
    fn default() -> Self {
        Input {
            buf: vec![0u8; MAX_FRAME].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
}

impl Input {
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The length of the next query, once its two octets are in.
    fn next_len(&self) -> Option<usize> {
        match self.pending() {
            [a, b, ..] => Some(usize::from(u16::from_be_bytes([*a, *b]))),
            _ => None,
        }
    }

    fn has_query(&self) -> bool {
        self.next_len()
            .is_some_and(|len| self.pending().len() >= 2 + len)
    }

    /// The next whole query, taken; an empty one (length 0) ends the connection.
    fn next_query(&mut self) -> Option<&[u8]> {
        if !self.has_query() {
            return None;
        }
        let len = self.next_len()?;
        let at = self.start + 2;
        self.start = at + len;
        Some(&self.buf[at..at + len])
    }

    /// Where the next read goes: the unanswered bytes moved to the front first, so
    /// that a whole frame always fits.
    fn room(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    fn filled(&mut self, n: usize) {
        self.end += n;
    }
}
