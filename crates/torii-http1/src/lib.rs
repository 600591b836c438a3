//! HTTP/1.1 connections for the proxy, server side (downstream clients) and client side
//! (upstream origins).
//!
//! Why not hyper here (see ARCHITECTURE.md and docs/adr/0003): hyper's HTTP/1.1 server keeps
//! its read and write buffers and the per-request service future allocated for the whole life
//! of a keep-alive connection (21.7–24 KiB per idle connection measured for torii on hyper), and its client
//! connection runs in a task of its own fed through a channel, which costs two task wake-ups
//! and a channel round trip per request. This crate parses heads with `httparse` straight
//! into `http` types (zero copy: header values are slices of the read buffer), holds no buffer
//! while a connection is idle, and drives an upstream request inside the task that asked for it.

pub mod client;
pub mod codec;
pub mod server;
pub mod upgrade;

pub use codec::{BodyError, Framing};
pub use upgrade::{OnUpgrade, Upgraded};
