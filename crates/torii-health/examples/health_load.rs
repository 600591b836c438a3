//! Load test of the health checker: monitors N origins (an http or tcp monitor every
//! `--interval` seconds) against upstreams that run in another process, and prints the CPU
//! time this process used over `--duration` seconds, as a share of one core.
//!
//! ```text
//! health_load --targets 10000 --interval 5 --duration 30 --protocol http \
//!     --upstreams 127.0.0.2:18490,127.0.0.3:18490 [--threads 1] [--warmup 5] [--reuse true]
//! ```
//!
//! Many origins share an upstream address (origin `i` uses upstream `i % n`); each is still
//! checked on its own, over its own connection. `bench/health.sh` runs it beside nginx.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use torii_config::lb::{HealthMonitor, MonitorProtocol, OutlierDetection, StatusCodes};
use torii_config::{MonitorId, PoolId};
use torii_health::{CheckerOptions, HealthChecker, OriginKey, Target};

struct Args {
    targets: usize,
    interval: u64,
    duration: u64,
    warmup: Option<u64>,
    protocol: MonitorProtocol,
    upstreams: Vec<SocketAddr>,
    threads: usize,
    reuse: bool,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        targets: 10_000,
        interval: 5,
        duration: 30,
        warmup: None,
        protocol: MonitorProtocol::Http,
        upstreams: Vec::new(),
        threads: 1,
        reuse: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--targets" => args.targets = value.parse()?,
            "--interval" => args.interval = value.parse()?,
            "--duration" => args.duration = value.parse()?,
            "--warmup" => args.warmup = Some(value.parse()?),
            "--threads" => args.threads = value.parse()?,
            "--reuse" => args.reuse = value.parse()?,
            "--protocol" => {
                args.protocol = match value.as_str() {
                    "http" => MonitorProtocol::Http,
                    "tcp" => MonitorProtocol::Tcp,
                    other => return Err(format!("unknown protocol {other}").into()),
                }
            }
            "--upstreams" => {
                for address in value.split(',') {
                    args.upstreams.push(address.parse()?);
                }
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if args.upstreams.is_empty() {
        return Err("--upstreams is required".into());
    }
    Ok(args)
}

/// User and system CPU time of this process, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_time() -> Result<(Duration, Duration), Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').ok_or("bad /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
    let utime: u64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok((
        Duration::from_millis(utime * 10),
        Duration::from_millis(stime * 10),
    ))
}

/// Resident memory of this process, from `/proc/self/status`.
fn resident_kib() -> Result<u64, Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    let kib = line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?;
    Ok(kib)
}

fn checks(checker: &HealthChecker) -> (u64, u64, usize) {
    let snapshot = checker.snapshot();
    let passed = snapshot.iter().map(|s| s.checks_passed).sum();
    let failed = snapshot.iter().map(|s| s.checks_failed).sum();
    let unhealthy = snapshot.iter().filter(|s| !s.healthy).count();
    (passed, failed, unhealthy)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let http = args.protocol == MonitorProtocol::Http;
    let monitor = Arc::new(HealthMonitor {
        id: MonitorId::new("bench", "monitor"),
        protocol: args.protocol,
        method: http::Method::GET,
        path: "/health".into(),
        port: None,
        headers: Vec::new(),
        expected_codes: StatusCodes::parse("2xx")?,
        expected_body: http.then(|| "ok".to_string()),
        follow_redirects: false,
        verify_tls: true,
        interval: Duration::from_secs(args.interval),
        timeout: Duration::from_secs(2),
        retries: 1,
        healthy_threshold: 2,
        unhealthy_threshold: 3,
    });
    let targets: Vec<Target> = (0..args.targets)
        .map(|i| Target {
            key: OriginKey::new(
                PoolId::new("bench", &format!("pool-{}", i / 100)),
                format!("origin-{i}"),
            ),
            address: args.upstreams[i % args.upstreams.len()],
            monitor: Some(Arc::clone(&monitor)),
            outlier: OutlierDetection::default(),
            host: None,
        })
        .collect();
    let mut options = CheckerOptions::default();
    options.probe.reuse_connections = args.reuse;
    let checker = HealthChecker::new(options, Arc::new(()))?;
    checker.update(targets);
    // The first checks are spread over one interval; measure the steady state after it.
    let warmup = args.warmup.unwrap_or(args.interval);
    tokio::time::sleep(Duration::from_secs(warmup)).await;

    let (passed0, failed0, _) = checks(&checker);
    let cpu0 = cpu_time()?;
    let wall0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let cpu1 = cpu_time()?;
    let wall = wall0.elapsed();
    let (passed1, failed1, unhealthy) = checks(&checker);

    let user = cpu1.0.saturating_sub(cpu0.0);
    let system = cpu1.1.saturating_sub(cpu0.1);
    let cpu = user + system;
    let done = (passed1 + failed1).saturating_sub(passed0 + failed0);
    let failed = failed1.saturating_sub(failed0);
    let share = cpu.as_secs_f64() / wall.as_secs_f64() * 100.0;
    println!(
        "targets {} protocol {} interval {}s threads {} reuse {}",
        args.targets,
        if http { "http" } else { "tcp" },
        args.interval,
        args.threads,
        args.reuse
    );
    println!(
        "checks {done} in {:.1}s ({:.0}/s), failed {failed}, unhealthy origins {unhealthy}",
        wall.as_secs_f64(),
        done as f64 / wall.as_secs_f64()
    );
    println!("resident memory {} MiB", resident_kib()? / 1024);
    println!(
        "cpu {:.2}s (user {:.2}s, system {:.2}s) over {:.1}s = {share:.2}% of one core",
        cpu.as_secs_f64(),
        user.as_secs_f64(),
        system.as_secs_f64(),
        wall.as_secs_f64()
    );
    Ok(())
}
