//! UDP workers: one thread per `SO_REUSEPORT` socket, each in a blocking loop that takes
//! a batch of queries with one system call (`recvmmsg`), answers them from the current
//! snapshot and the worker's answer cache, and sends the replies with one more
//! (`sendmmsg`).
//! Nothing on this path locks, spawns or allocates once the worker's buffers exist; its
//! counts go to the shared counters once per batch.

use std::net::{IpAddr, UdpSocket};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::DnsService;
use crate::dns::cache::AnswerCache;
use crate::dns::{Local, Transport};
use crate::draw::Draw;
use crate::snapshot::Snapshot;

/// One thread per socket, each answering in a loop until the process ends.
pub fn spawn_udp_workers(
    sockets: Vec<UdpSocket>,
    service: &Arc<DnsService>,
) -> std::io::Result<()> {
    for (i, socket) in sockets.into_iter().enumerate() {
        let service = service.clone();
        std::thread::Builder::new()
            .name(format!("udp-{i}"))
            .spawn(move || Worker::new(service).serve(socket))?;
    }
    Ok(())
}

/// What one worker keeps between queries.
struct Worker {
    service: Arc<DnsService>,
    local: Local,
}

impl Worker {
    fn new(service: Arc<DnsService>) -> Self {
        Worker {
            service,
            local: Local::new(Draw::from_entropy(), true),
        }
    }

    /// Answers one query into `out`; false when it gets no reply.
    fn answer(
        &mut self,
        query: &[u8],
        peer: IpAddr,
        snapshot: &Arc<Snapshot>,
        out: &mut Vec<u8>,
    ) -> bool {
        let (service, local) = (&self.service, &mut self.local);
        // A bug must cost one answer, never the worker.
        let reply = catch_unwind(AssertUnwindSafe(|| {
            service
                .responder
                .handle(query, Transport::Udp, peer, snapshot, local, out)
        }));
        let answered = reply.unwrap_or_else(|_| {
            tracing::error!(%peer, "internal error while answering a UDP query; dropped");
            // A panic may have left the cache half-updated: start afresh.
            local.cache = Some(AnswerCache::default());
            false
        });
        // Rate limiting applies to what goes out over UDP, cached or not.
        match &service.responder.rate_limit {
            Some(limit) if answered && !local.good_cookie => limit.allow(peer, out),
            _ => answered,
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn serve(mut self, socket: UdpSocket) {
        let mut packet = vec![0u8; 65535];
        let mut out = Vec::with_capacity(4096);
        let service = self.service.clone();
        loop {
            let (len, peer) = match socket.recv_from(&mut packet) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "UDP receive failed");
                    continue;
                }
            };
            let snapshot = service.live.load();
            if self.answer(&packet[..len], peer.ip(), &snapshot, &mut out) {
                let _ = socket.send_to(&out, peer);
            }
            self.local.flush_counts();
        }
    }

    #[cfg(target_os = "linux")]
    fn serve(mut self, socket: UdpSocket) {
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        let service = self.service.clone();
        let mut batch = mmsg::Batch::new();
        loop {
            let received = match batch.receive(fd) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "UDP receive failed");
                    continue;
                }
            };
            // One snapshot for the whole batch.
            let snapshot = service.live.load();
            for i in 0..received {
                let mut out = batch.take_reply_buffer();
                // Longer than a slot, or from an unknown family: dropped.
                let answered = batch
                    .query(i)
                    .is_some_and(|(query, peer)| self.answer(query, peer, &snapshot, &mut out));
                if answered {
                    batch.reply(i, out);
                } else {
                    batch.give_back(out);
                }
            }
            self.local.flush_counts();
            drop(snapshot);
            batch.send(fd);
        }
    }
}

#[cfg(target_os = "linux")]
mod mmsg {
    //! `recvmmsg` / `sendmmsg` over fixed buffers. The message headers point into this
    //! struct's heap buffers, so they are filled in just before each call.

    use std::io;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::os::fd::RawFd;

    /// Queries taken per system call.
    const BATCH: usize = 32;
    /// The largest query read; longer ones (never seen from real resolvers) are dropped.
    const SLOT: usize = 4096;

    pub struct Batch {
        packets: Box<[[u8; SLOT]]>,
        peers: Box<[libc::sockaddr_storage]>,
        iov: Box<[libc::iovec]>,
        headers: Box<[libc::mmsghdr]>,
        /// Replies ready to go: (index of the query, response).
        replies: Vec<(usize, Vec<u8>)>,
        /// Response buffers not in use, kept for reuse.
        spare: Vec<Vec<u8>>,
    }

    impl Batch {
        pub fn new() -> Self {
            // SAFETY: all-zero is a valid value of each of these plain C structs.
            Batch {
                packets: vec![[0u8; SLOT]; BATCH].into_boxed_slice(),
                peers: unsafe { zeroed() },
                iov: unsafe { zeroed() },
                headers: unsafe { zeroed() },
                replies: Vec::with_capacity(BATCH),
                spare: (0..BATCH).map(|_| Vec::with_capacity(4096)).collect(),
            }
        }

        /// Blocks for at least one query, takes up to BATCH; returns how many.
        pub fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
            for i in 0..BATCH {
                self.iov[i] = libc::iovec {
                    iov_base: self.packets[i].as_mut_ptr().cast(),
                    iov_len: SLOT,
                };
                let h = &mut self.headers[i];
                h.msg_hdr.msg_name = (&mut self.peers[i] as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
                h.msg_hdr.msg_iov = &mut self.iov[i];
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_control = std::ptr::null_mut();
                h.msg_hdr.msg_controllen = 0;
                h.msg_hdr.msg_flags = 0;
                h.msg_len = 0;
            }
            // SAFETY: every header points at live buffers of the sizes given.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.headers.as_mut_ptr(),
                    BATCH as _,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(n as usize)
        }

        /// Query `i` of the last receive and its sender.
        pub fn query(&self, i: usize) -> Option<(&[u8], IpAddr)> {
            let h = &self.headers[i];
            if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                return None;
            }
            let peer = ip_of(&self.peers[i])?;
            Some((&self.packets[i][..h.msg_len as usize], peer))
        }

        pub fn take_reply_buffer(&mut self) -> Vec<u8> {
            self.spare.pop().unwrap_or_default()
        }

        pub fn give_back(&mut self, buffer: Vec<u8>) {
            self.spare.push(buffer);
        }

        /// Queues `response` for the sender of query `i`.
        pub fn reply(&mut self, i: usize, response: Vec<u8>) {
            self.replies.push((i, response));
        }

        /// Sends every queued reply; a reply the kernel refuses is dropped, as UDP may.
        pub fn send(&mut self, fd: RawFd) {
            let count = self.replies.len();
            for (k, (i, response)) in self.replies.iter_mut().enumerate() {
                // The query's slot is done with: its iovec and header now carry the reply.
                self.iov[k] = libc::iovec {
                    iov_base: response.as_mut_ptr().cast(),
                    iov_len: response.len(),
                };
                let namelen = self.headers[*i].msg_hdr.msg_namelen;
                let h = &mut self.headers[k];
                h.msg_hdr.msg_name = (&mut self.peers[*i] as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = namelen;
                h.msg_hdr.msg_iov = &mut self.iov[k];
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_flags = 0;
            }
            let mut sent = 0;
            while sent < count {
                // SAFETY: headers sent..count point at live replies and peer addresses.
                let n = unsafe {
                    libc::sendmmsg(
                        fd,
                        self.headers[sent..].as_mut_ptr(),
                        (count - sent) as _,
                        0,
                    )
                };
                match n {
                    n if n > 0 => sent += n as usize,
                    _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                    _ => sent += 1, // this one cannot go; the rest still may
                }
            }
            for (_, mut response) in self.replies.drain(..) {
                response.clear();
                self.spare.push(response);
            }
        }
    }

    /// BATCH all-zero values. Safety: all-zero must be a valid `T`.
    unsafe fn zeroed<T>() -> Box<[T]> {
        (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect()
    }

    fn ip_of(s: &libc::sockaddr_storage) -> Option<IpAddr> {
        let ptr = s as *const libc::sockaddr_storage;
        match i32::from(s.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let a = unsafe { &*ptr.cast::<libc::sockaddr_in>() };
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let a = unsafe { &*ptr.cast::<libc::sockaddr_in6>() };
                Some(IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}
