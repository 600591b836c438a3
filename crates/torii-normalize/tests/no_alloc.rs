//! A path that is already normal, and a valid Host, cost no allocation.

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use torii_normalize::{match_view, normalize_path, parse_authority, EscapedSlashes};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn normal_requests_do_not_allocate() {
    let paths = [
        "/",
        "/api/v1/users/42",
        "/static/app.3f2a.js",
        "/a%3Ab",
        "/~me/x-y_z",
    ];
    let region = Region::new(GLOBAL);
    for path in paths {
        let normal = normalize_path(path, EscapedSlashes::Redirect).expect("valid");
        assert_eq!(normal.path, path);
        assert_eq!(match_view(&normal.path), path);
        parse_authority(b"shop.example.com:8443").expect("valid");
    }
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
}
