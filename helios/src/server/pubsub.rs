//! Pub/sub: who is subscribed to which channels and patterns, and delivery.
//!
//! Each subscribed connection has an unbounded queue of encoded messages
//! (RESP2 arrays or RESP3 pushes, as that client speaks); `PUBLISH` encodes
//! once per protocol and queues, and the connection writes queued messages
//! whenever it waits for input. Delivery is fire-and-forget, as in Redis: a
//! client that is gone or slow does not hold the publisher up.

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;

use crate::atlas::glob;

/// Where a subscriber's messages go.
#[derive(Clone, Debug)]
pub struct Mailbox {
    pub tx: UnboundedSender<Bytes>,
    pub resp3: bool,
}

/// What a subscription is to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `SUBSCRIBE`: one channel.
    Channel,
    /// `PSUBSCRIBE`: channels matching a glob pattern.
    Pattern,
    /// `SSUBSCRIBE`: a shard channel, a namespace of its own reached by
    /// `SPUBLISH` (one shard here, so it behaves like a channel).
    Shard,
}

type Subscribers = HashMap<Bytes, HashMap<u64, Mailbox>>;

#[derive(Default)]
struct Inner {
    channels: Subscribers,
    patterns: Subscribers,
    shard: Subscribers,
}

impl Inner {
    fn map(&mut self, kind: Kind) -> &mut Subscribers {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

/// The registry of subscriptions.
#[derive(Default)]
pub struct PubSub {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSub").finish_non_exhaustive()
    }
}

/// A pub/sub message as RESP: `*n` (RESP2) or `>n` (RESP3) and bulk strings.
pub fn encode(resp3: bool, parts: &[&[u8]]) -> Bytes {
    let mut b = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    b.push(if resp3 { b'>' } else { b'*' });
    b.extend_from_slice(parts.len().to_string().as_bytes());
    b.extend_from_slice(b"\r\n");
    for p in parts {
        b.push(b'$');
        b.extend_from_slice(p.len().to_string().as_bytes());
        b.extend_from_slice(b"\r\n");
        b.extend_from_slice(p);
        b.extend_from_slice(b"\r\n");
    }
    Bytes::from(b)
}

/// Queues one message per subscriber, encoded once per protocol.
fn deliver<'a>(subs: impl Iterator<Item = &'a Mailbox>, parts: &[&[u8]]) -> usize {
    let mut cached: [Option<Bytes>; 2] = [None, None];
    let mut sent = 0;
    for m in subs {
        let bytes = cached[usize::from(m.resp3)]
            .get_or_insert_with(|| encode(m.resp3, parts))
            .clone();
        let _ = m.tx.send(bytes);
        sent += 1;
    }
    sent
}

impl PubSub {
    /// Adds `id` to `name`; false if it was already there.
    pub fn subscribe(&self, kind: Kind, name: &[u8], id: u64, mailbox: &Mailbox) -> bool {
        self.inner
            .lock()
            .map(kind)
            .entry(Bytes::copy_from_slice(name))
            .or_default()
            .insert(id, mailbox.clone())
            .is_none()
    }

    /// Removes `id` from `name`; false if it was not there.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) -> bool {
        let mut inner = self.inner.lock();
        let map = inner.map(kind);
        let Some(subs) = map.get_mut(name) else {
            return false;
        };
        let removed = subs.remove(&id).is_some();
        if subs.is_empty() {
            map.remove(name);
        }
        removed
    }

    /// Removes a disconnected client from everything it subscribed to.
    pub fn remove_client(&self, id: u64) {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        for map in [&mut inner.channels, &mut inner.patterns, &mut inner.shard] {
            map.retain(|_, subs| {
                subs.remove(&id);
                !subs.is_empty()
            });
        }
    }

    /// `PUBLISH`: delivers `message` on `channel`; returns how many
    /// subscriptions (direct and by pattern) it was queued for.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let inner = self.inner.lock();
        let mut sent = 0;
        if let Some(subs) = inner.channels.get(channel) {
            sent += deliver(subs.values(), &[b"message", channel, message]);
        }
        for (pattern, subs) in &inner.patterns {
            if glob::matches(pattern, channel, false) {
                sent += deliver(subs.values(), &[b"pmessage", pattern, channel, message]);
            }
        }
        sent
    }

    /// `SPUBLISH`: delivers `message` to the subscribers of shard channel
    /// `channel`; returns how many.
    pub fn publish_shard(&self, channel: &[u8], message: &[u8]) -> usize {
        let inner = self.inner.lock();
        inner.shard.get(channel).map_or(0, |subs| {
            deliver(subs.values(), &[b"smessage", channel, message])
        })
    }

    /// Channels of `kind` (channel or shard) with at least one subscriber,
    /// matching `pattern` if given.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut inner = self.inner.lock();
        let mut v: Vec<Bytes> = inner
            .map(kind)
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Subscribers of `channel` (patterns not counted, as in Redis).
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.inner
            .lock()
            .map(kind)
            .get(channel)
            .map_or(0, |s| s.len())
    }

    /// Patterns with at least one subscriber.
    pub fn numpat(&self) -> usize {
        self.inner.lock().patterns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers_in_their_protocol() {
        let ps = PubSub::default();
        let (tx2, mut rx2) = tokio::sync::mpsc::unbounded_channel();
        let (tx3, mut rx3) = tokio::sync::mpsc::unbounded_channel();
        let m2 = Mailbox {
            tx: tx2,
            resp3: false,
        };
        let m3 = Mailbox {
            tx: tx3,
            resp3: true,
        };
        assert!(ps.subscribe(Kind::Channel, b"news", 1, &m2));
        assert!(!ps.subscribe(Kind::Channel, b"news", 1, &m2));
        assert!(ps.subscribe(Kind::Pattern, b"n*", 2, &m3));
        assert_eq!(ps.publish(b"news", b"hi"), 2);
        assert_eq!(
            rx2.try_recv().unwrap(),
            Bytes::from_static(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n")
        );
        assert_eq!(
            rx3.try_recv().unwrap(),
            Bytes::from_static(b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n")
        );
        assert_eq!(ps.publish(b"other", b"x"), 0);
        assert_eq!(
            ps.channels(Kind::Channel, None),
            [Bytes::from_static(b"news")]
        );
        assert_eq!((ps.numsub(Kind::Channel, b"news"), ps.numpat()), (1, 1));
        ps.remove_client(1);
        assert_eq!(ps.numsub(Kind::Channel, b"news"), 0);
        assert!(ps.channels(Kind::Channel, None).is_empty());
    }
}
