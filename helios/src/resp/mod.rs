//! The Redis wire protocol (RESP2 and RESP3), as a server sees it.
//!
//! This module owns two things: turning the bytes a client sends into
//! commands ([`parse`]), and turning replies into bytes ([`out`]).
//!
//! Clients only ever send two shapes of request: a multibulk (an array of
//! bulk strings, `*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or an inline command
//! (`PING\r\n` typed into telnet). The parser handles exactly those, checks
//! every declared length against the configured limits *before* reserving
//! memory for it, and hands out arguments as zero-copy slices of the read
//! buffer. It deliberately does not parse the reply types (maps, doubles,
//! ...): a server never receives them.
//!
//! Replies are written straight into the connection's output buffer by the
//! command that produces them, in the protocol version the client chose with
//! `HELLO` (RESP3 types degrade to their RESP2 forms for RESP2 clients, as
//! Redis does). This keeps a `GET` to one copy of the value, from the
//! keyspace into the socket buffer.
//!
//! Why not the `redis-protocol` crate: its decoder is a general frame decoder
//! (every RESP type), has no notion of per-connection limits checked before
//! allocation, and does not parse inline commands; the two shapes above are a
//! few hundred lines and are the hottest path in the server.

pub mod out;
pub mod parse;

pub use out::Out;
pub use parse::{Limits, ParseError, RequestParser};
