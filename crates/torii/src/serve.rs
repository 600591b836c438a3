//! `torii serve`: load, translate, apply, then apply every change the source reports.
//! Startup and reload are one code path: [`Controller::apply`].

use crate::source::{Source, SourceArgs};
use crate::{logging, summary, RunArgs, EXIT_INVALID_CONFIG};
use anyhow::Context;
use prometheus_client::registry::Registry;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use torii_admin::AdminState;
use torii_proxy::{LoadBalancing, Proxy, ProxyMetrics, ProxyOptions};
use torii_resources::LoadReport;
use torii_translate::{translate, TranslateOptions};

/// How long a stopping replica tries to hand its Lease over.
const LEASE_RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Arguments of `torii serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Why a config was not applied (nothing of it was).
#[derive(Debug)]
pub enum ApplyFailure {
    /// The resources have errors.
    Invalid(Vec<torii_resources::LoadError>),
    /// The proxy refused the translated config.
    Proxy(torii_proxy::ApplyError),
    /// A notification target is invalid.
    Notifications(anyhow::Error),
}

impl std::fmt::Display for ApplyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyFailure::Invalid(errors) => write!(f, "{} invalid resources", errors.len()),
            ApplyFailure::Proxy(error) => {
                write!(f, "{error}")?;
                let mut cause = std::error::Error::source(error);
                while let Some(error) = cause {
                    write!(f, ": {error}")?;
                    cause = error.source();
                }
                Ok(())
            }
            ApplyFailure::Notifications(error) => write!(f, "{error:#}"),
        }
    }
}

/// Applies resource sets to the proxy and publishes status.
pub struct Controller {
    pub proxy: Arc<Proxy>,
    pub admin: Arc<AdminState>,
    pub options: TranslateOptions,
    /// Load-balancer notification targets, updated with each config.
    pub notifications: Arc<crate::lb::Notifications>,
    /// The DNS responder (`--dns`) and the zones asked for.
    pub dns: Option<(torii_dns::DnsHandle, Vec<String>)>,
    /// Rollout state, gates and commands.
    pub rollouts: Arc<crate::rollout::RolloutController>,
    /// Kubernetes mode: the status writer (it writes only while this replica leads).
    pub status: Option<torii_kube_status::StatusWriter>,
}

impl Controller {
    /// Translates and applies one load report; the previous snapshot keeps serving on error.
    pub async fn apply(
        &self,
        report: LoadReport,
    ) -> Result<torii_proxy::ApplyReport, ApplyFailure> {
        for warning in &report.warnings {
            tracing::warn!(problem = %warning, "config warning");
        }
        if !report.errors.is_empty() {
            self.proxy.metrics().reload(false);
            return Err(ApplyFailure::Invalid(report.errors));
        }
        let started = Instant::now();
        let translation = translate(&report.set, &self.options);
        let translated = started.elapsed();
        let config_summary = summary::config(&translation.config);
        // Prepare: everything that can fail, changing nothing that is served.
        let notifications = match self.notifications.prepare(&translation.config) {
            Ok(prepared) => prepared,
            Err(error) => {
                self.proxy.metrics().reload(false);
                return Err(ApplyFailure::Notifications(error));
            }
        };
        let prepared = match self.proxy.prepare(translation.config).await {
            Ok(prepared) => prepared,
            Err(error) => {
                self.proxy.metrics().reload(false);
                return Err(ApplyFailure::Proxy(error));
            }
        };
        // Commit: nothing below fails. The sinks first, so that health changes of the new
        // config's origins (checked from the proxy's commit on) find their sinks.
        self.notifications.commit(notifications);
        let applied = self.proxy.commit(prepared).await;
        self.proxy.metrics().reload(true);
        self.rollouts.sync();
        if let Some((dns, zones)) = &self.dns {
            let load_balancing = self.proxy.load_balancing().clone();
            let answers = crate::dns::LbAnswers::new(&load_balancing.current(), load_balancing);
            match answers.zones(zones, applied.generation) {
                Ok(zone_set) => dns.update(zone_set, Arc::new(answers)),
                Err(error) => tracing::error!(%error, "DNS zones not updated"),
            }
        }
        for (address, error) in &applied.bind_errors {
            tracing::error!(%address, %error, "cannot bind listener");
        }
        if let Some(writer) = &self.status {
            writer.set_report(Arc::new(translation.status.clone()));
        }
        self.admin.set_status(summary::status(
            &translation.status,
            &applied,
            &report.warnings,
        ));
        self.admin
            .set_config(summary::with_generation(config_summary, applied.generation));
        tracing::info!(
            generation = applied.generation,
            bound = ?applied.bound,
            closed = ?applied.closed,
            translate_ms = translated.as_secs_f64() * 1000.0,
            total_ms = started.elapsed().as_secs_f64() * 1000.0,
            "config applied"
        );
        Ok(applied)
    }
}

/// Runs `torii serve`.
pub fn main(args: ServeArgs) -> ExitCode {
    logging::init(args.run.log_format);
    let access = match crate::admin::access(&args.run) {
        Ok(access) => access,
        Err(error) => return usage_error(&error),
    };
    let runtime = match build_runtime(args.run.threads) {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot start");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(Source::from_args(args.source), args.run, access, None))
}

/// Prints a usage error (before anything is bound) and returns exit code 2.
pub fn usage_error(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::from(2)
}

/// A tokio runtime with `threads` workers (a current-thread runtime for 1).
pub fn build_runtime(threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let threads = threads
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1);
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    runtime.context("cannot build the async runtime")
}

/// Serves from `source` until SIGTERM/SIGINT, with the admin server under `access`.
/// `on_ready` runs once the first snapshot is served (the demo prints its instructions there).
pub async fn run(
    source: Source,
    run: RunArgs,
    access: torii_admin::AdminAccess,
    on_ready: Option<Box<dyn FnOnce() + Send>>,
) -> ExitCode {
    let mut registry = Registry::default();
    let metrics = ProxyMetrics::register(&mut registry);
    let started = crate::lb::locator(&run).and_then(|locator| {
        let secret = crate::lb::affinity_secret(&run)?;
        let notifications = crate::lb::Notifications::new()?;
        let listener: Arc<dyn torii_health::HealthListener> = notifications.clone();
        let mut load_balancing = LoadBalancing::new(locator, Some(listener))
            .context("cannot start the health checker")?;
        if let Some(secret) = secret {
            load_balancing = load_balancing.with_affinity_secret(secret);
        }
        Ok((notifications, Arc::new(load_balancing)))
    });
    let (notifications, load_balancing) = match started {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot start");
            return ExitCode::from(1);
        }
    };
    registry.register_collector(Box::new(load_balancing.checker().collector()));
    let admin = AdminState::new(registry);
    {
        let origins = load_balancing.clone();
        admin.add_live_section(
            "origins",
            Arc::new(move || {
                serde_json::to_value(origins.checker().snapshot()).unwrap_or_default()
            }),
        );
        let load_balancing = load_balancing.clone();
        admin.add_live_section(
            "loadBalancers",
            Arc::new(move || crate::lb::status(&load_balancing)),
        );
    }
    let dns = match run.dns {
        None => None,
        Some(address) => {
            let bound = torii_dns::DnsServer::bind(
                address,
                torii_dns::ZoneSet::empty(),
                Arc::new(torii_dns::EmptySource),
                torii_dns::DnsOptions::default(),
            );
            match bound {
                Ok(server) => {
                    let handle = server.handle();
                    server.spawn(torii_dns::CancellationToken::new());
                    tracing::info!(%address, "DNS responder listening");
                    Some((handle, run.dns_zones.clone()))
                }
                Err(error) => {
                    tracing::error!(error = %format!("{:#}", anyhow::Error::from(error)), "cannot start");
                    return ExitCode::from(1);
                }
            }
        }
    };
    let options = proxy_options(&run);
    admin.register_collector(Box::new(crate::metrics::EdgeCollector {
        notifications: notifications.clone(),
        dns: dns.as_ref().map(|(handle, _)| handle.clone()),
    }));
    let proxy = Arc::new(Proxy::new(options, metrics, load_balancing));
    admin.register_collector(Box::new(torii_proxy::migration::MigrationCollector::new(
        proxy.migrations().clone(),
    )));
    let rollouts = Arc::new(crate::rollout::RolloutController::new(
        proxy.migrations().clone(),
        notifications.clone(),
        &run.state_dir,
    ));
    let mut controller = Controller {
        status: None,
        proxy: proxy.clone(),
        admin: admin.clone(),
        notifications,
        dns,
        rollouts: rollouts.clone(),
        options: TranslateOptions {
            controller_name: "torii.dev/gateway-controller".to_string(),
            default_address: run.default_address,
        },
    };

    let routes = crate::rollout::admin_routes(rollouts, proxy.migrations().clone());
    let token = access.has_token();
    let admin_server = match torii_admin::bind_with(access, admin.clone(), routes).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(error = %format!("{:#}", anyhow::Error::from(error)), "cannot start");
            return ExitCode::from(1);
        }
    };
    tokio::spawn(admin_server);
    tracing::info!(
        address = %run.admin,
        authentication = if token { "bearer token" } else { "none (loopback only)" },
        "admin server listening"
    );

    // Watching starts before the first read, so no edit made during startup is missed. A
    // Kubernetes source may wait for its API server: SIGTERM/SIGINT stop the wait.
    let paths = source.describe();
    let started = tokio::select! {
        started = source.start() => started,
        _ = shutdown_signal() => return ExitCode::SUCCESS,
    };
    let crate::source::Started {
        first: initial,
        mut changes,
        kube,
    } = match started {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot start");
            return ExitCode::from(1);
        }
    };
    // Kubernetes mode: every replica serves; the holder of the Lease writes status.
    let leadership = kube.map(|(stores, writes)| {
        let (namespace, name) = &writes.lease;
        let options =
            torii_kube_status::LeaseOptions::new(namespace, name, torii_kube_status::identity());
        let leadership = torii_kube_status::Leadership::start(stores.client().clone(), options);
        let mut writer_options =
            torii_kube_status::WriterOptions::new(&controller.options.controller_name);
        writer_options.publish_service = writes.publish_service.clone();
        // Rollout state lives in each Rollout's status; only the Lease holder drives it.
        let read_stores = stores.clone();
        controller.rollouts.use_status(crate::rollout::StatusState {
            read: Box::new(move |id| {
                let key = torii_resources::ObjectKey {
                    kind: "Rollout".to_owned(),
                    namespace: id.namespace.to_string(),
                    name: id.name.to_string(),
                };
                let status = read_stores.get(&key)?.status?;
                let mut status: serde_json::Value = serde_json::from_str(&status).ok()?;
                Some(status.get_mut("state")?.take())
            }),
            leader: leadership.subscribe(),
            lease: format!("{namespace}/{name}"),
        });
        controller.status = Some(torii_kube_status::StatusWriter::spawn(
            stores,
            leadership.subscribe(),
            writer_options,
        ));
        leadership
    });
    let mut last_good = initial.clone();
    match controller.apply(initial).await {
        Ok(applied) if !applied.bind_errors.is_empty() => return ExitCode::from(1),
        Ok(_) => {}
        Err(ApplyFailure::Invalid(errors)) => {
            for error in &errors {
                eprintln!("{error}");
            }
            tracing::error!(errors = errors.len(), source = %paths, "invalid configuration");
            return ExitCode::from(EXIT_INVALID_CONFIG);
        }
        Err(failure) => {
            tracing::error!(error = %failure, "invalid configuration");
            return ExitCode::from(EXIT_INVALID_CONFIG);
        }
    }
    admin.set_ready(true);
    if let Some(on_ready) = on_ready {
        on_ready();
    }

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    // Origin DNS names are looked up again off the control loop; a change is announced here.
    let mut renamed = spawn_reresolve(proxy.load_balancing().clone(), run.resolve_interval);
    let mut rollout_tick = tokio::time::interval(crate::rollout::TICK);
    rollout_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Every apply races the shutdown signal: a slow one never holds the process.
        tokio::select! {
            _ = &mut shutdown => break,
            _ = rollout_tick.tick() => {
                controller.rollouts.tick();
                if let Some(writer) = &controller.status {
                    writer.set_runtime(crate::kube_status::runtime(&controller.proxy, &controller.rollouts));
                }
            }
            Some(()) = renamed.recv() => {
                // Origin names that now resolve elsewhere: the same resources again.
                tokio::select! {
                    _ = &mut shutdown => break,
                    applied = controller.apply(last_good.clone()) => if let Err(failure) = applied {
                        tracing::error!(error = %failure, "re-applying after origin names changed failed");
                    },
                }
            }
            change = changes.recv() => {
                let Some(report) = change else { break };
                let candidate = report.clone();
                tokio::select! {
                    _ = &mut shutdown => break,
                    applied = controller.apply(report) => match applied {
                        Ok(_) => last_good = candidate,
                        Err(ApplyFailure::Invalid(errors)) => {
                            for error in &errors {
                                tracing::error!(problem = %error, "config change rejected; the previous config keeps serving");
                            }
                        }
                        Err(failure) => {
                            tracing::error!(error = %failure, "config change rejected; the previous config keeps serving");
                        }
                    },
                }
            }
        }
    }
    admin.set_ready(false);
    if let Some(leadership) = leadership {
        // Another replica writes status from now on, without waiting for the lease to expire.
        leadership.release(LEASE_RELEASE_TIMEOUT).await;
    }
    tracing::info!(timeout = ?run.drain_timeout, "draining");
    let left = controller.proxy.shutdown(run.drain_timeout).await;
    if left > 0 {
        tracing::warn!(
            connections = left,
            "drain timeout passed with connections open"
        );
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// The data plane's limits and timeouts from the command line.
pub fn proxy_options(run: &RunArgs) -> ProxyOptions {
    let defaults = ProxyOptions::default();
    ProxyOptions {
        access_log: run.access_log,
        header_read_timeout: run.header_read_timeout,
        keep_alive_timeout: run.keep_alive_timeout,
        normalize: torii_proxy::NormalizeOptions {
            escaped_slashes: run.escaped_slashes.into(),
            allowed_upgrades: if run.allow_upgrades.is_empty() {
                defaults.normalize.allowed_upgrades.clone()
            } else {
                run.allow_upgrades.clone()
            },
        },
        request_body_timeout: run.request_body_timeout,
        upstream_response_timeout: run.upstream_response_timeout,
        stream_idle_timeout: run.stream_idle_timeout,
        max_request_duration: run.max_request_duration,
        tcp_idle_timeout: run.tcp_idle_timeout,
        max_connections: run.max_connections.max(1),
        max_connections_per_listener: run.max_connections_per_listener.max(1),
        ..defaults
    }
}

/// Looks origin DNS names up again every `interval` in a task of its own, sending `()` when
/// any now resolves to other addresses.
fn spawn_reresolve(
    load_balancing: Arc<LoadBalancing>,
    interval: std::time::Duration,
) -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        loop {
            tick.tick().await;
            if load_balancing.reresolve().await && tx.send(()).await.is_err() {
                return;
            }
        }
    });
    rx
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
