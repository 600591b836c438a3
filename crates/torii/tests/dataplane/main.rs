//! Integration tests of the data plane: the real `torii serve` binary with real clients and
//! backends on 127.0.0.x sockets. One test binary, so every case runs in parallel.

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod bodies;
mod cli;
mod drain;
mod errors;
mod fqdn;
mod grpc;
mod hardening;
mod headers;
mod l4;
mod load_balancing;
mod migration;
mod mirror;
mod reload;
mod routing;
mod slowloris;
mod tls;
mod upgrade;
