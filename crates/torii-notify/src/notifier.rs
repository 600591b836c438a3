//! The notifier: a bounded queue and a delivery task per sink, config reloads and shutdown.

use crate::config::{
    NotifierConfig, RetryPolicy, SinkConfig, SinkTarget, MAX_ATTEMPTS, MAX_QUEUE_CAPACITY,
};
use crate::email::{EmailSink, Mail};
use crate::error::{InvalidNotifier, SinkProblem};
use crate::event::Event;
use crate::retry::{backoff, AttemptError};
use crate::stats::{SinkCounters, SinkStats};
use crate::webhook::WebhookSink;
use arc_swap::ArcSwap;
use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// Sends [`Event`]s to the configured sinks without ever making the caller wait.
///
/// Each sink has a bounded queue and a background task that delivers its events one at a time,
/// in order, with retries. See the crate documentation for the delivery rules.
pub struct Notifier {
    /// The hot path: what [`Notifier::notify`] reads, one atomic load per event.
    sinks: ArcSwap<Vec<Arc<SinkHandle>>>,
    /// The tasks, for reloads and shutdown (never locked by `notify`).
    state: Mutex<State>,
    runtime: Handle,
}

/// What `notify` needs of one sink.
struct SinkHandle {
    name: Arc<str>,
    kind: &'static str,
    pools: Vec<String>,
    rollouts: Vec<String>,
    queue: mpsc::Sender<Arc<Event>>,
    counters: Arc<SinkCounters>,
    /// Set while the queue overflows, so one warning is logged per overflow, not per event.
    overflowing: AtomicBool,
}

impl SinkHandle {
    /// A sink with a rollout filter hears only those rollouts' events; a rollout's event goes
    /// to no other sink. Otherwise an event without a pool goes to every sink; one with a
    /// pool passes the filter.
    fn accepts(&self, event: &Event) -> bool {
        if !self.rollouts.is_empty() || event.rollout.is_some() {
            return event
                .rollout
                .as_ref()
                .is_some_and(|r| self.rollouts.iter().any(|x| x == r));
        }
        match &event.pool {
            None => true,
            Some(pool) => self.pools.is_empty() || self.pools.iter().any(|p| p == pool),
        }
    }

    fn stats(&self) -> SinkStats {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        SinkStats {
            name: self.name.to_string(),
            kind: self.kind,
            delivered: load(&self.counters.delivered),
            retried: load(&self.counters.retried),
            dropped: load(&self.counters.dropped),
            failed: load(&self.counters.failed),
            queued: (self.queue.max_capacity() - self.queue.capacity()) as u64,
        }
    }
}

#[derive(Default)]
struct State {
    shut_down: bool,
    workers: HashMap<String, Worker>,
}

/// One sink's running task.
struct Worker {
    config: SinkConfig,
    handle: Arc<SinkHandle>,
    signal: watch::Sender<Signal>,
    task: JoinHandle<Leftover>,
}

/// What a task is told to do besides delivering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    Run,
    /// Stop and hand the undelivered events to the successor (the sink's settings changed).
    Handover,
    /// Stop and drop the undelivered events (the sink was removed, or shutdown's deadline).
    Abort,
}

/// The undelivered events a stopped task leaves to its successor, oldest first.
#[derive(Default)]
struct Leftover {
    pending: Option<Arc<Event>>,
    queues: VecDeque<mpsc::Receiver<Arc<Event>>>,
}

impl Leftover {
    fn len(&self) -> u64 {
        u64::from(self.pending.is_some()) + self.queues.iter().map(|q| q.len() as u64).sum::<u64>()
    }
}

/// What [`Notifier::shutdown`] achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events still queued or in delivery when the deadline passed (counted as dropped).
    pub abandoned: u64,
    /// Whether the deadline passed before every queue was empty.
    pub timed_out: bool,
    /// The sinks' final counters.
    pub sinks: Vec<SinkStats>,
}

impl Notifier {
    /// Validates `config` and starts one delivery task per sink on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (like `tokio::spawn`).
    pub fn new(config: NotifierConfig) -> Result<Notifier, InvalidNotifier> {
        let notifier = Notifier {
            sinks: ArcSwap::from_pointee(Vec::new()),
            state: Mutex::new(State::default()),
            runtime: Handle::current(),
        };
        notifier.update(config)?;
        Ok(notifier)
    }

    /// Queues `event` for every sink whose filter it passes, and returns at once.
    ///
    /// Never blocks and never fails: when a sink's queue is full the event is dropped for that
    /// sink, counted, and a warning is logged (once per overflow). Callable from any thread,
    /// inside or outside the runtime.
    pub fn notify(&self, event: Event) {
        let sinks = self.sinks.load();
        if sinks.is_empty() {
            return;
        }
        let event = Arc::new(event);
        for sink in sinks.iter().filter(|sink| sink.accepts(&event)) {
            match sink.queue.try_send(Arc::clone(&event)) {
                Ok(()) => {
                    if sink.overflowing.load(Ordering::Relaxed) {
                        sink.overflowing.store(false, Ordering::Relaxed);
                    }
                }
                Err(error) => {
                    let dropped = SinkCounters::add(&sink.counters.dropped, 1);
                    if !sink.overflowing.swap(true, Ordering::Relaxed) {
                        if matches!(error, TrySendError::Full(_)) {
                            warn!(
                                sink = %sink.name,
                                kind = %event.kind,
                                capacity = sink.queue.max_capacity(),
                                dropped_total = dropped,
                                "notification queue full, dropping events"
                            );
                        } else {
                            warn!(
                                sink = %sink.name,
                                kind = %event.kind,
                                dropped_total = dropped,
                                "notification sink stopped, dropping events"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Applies a new configuration; on error nothing changes.
    ///
    /// Sinks are matched by name. An unchanged sink keeps running untouched. A changed sink
    /// keeps its counters and its undelivered events, which are delivered with the new
    /// settings (an attempt in progress is interrupted and made again, so the receiver may see
    /// that event twice). A removed sink stops at once; its undelivered events are dropped and
    /// counted. After [`Notifier::shutdown`], updates are ignored.
    pub fn update(&self, config: NotifierConfig) -> Result<(), InvalidNotifier> {
        let prepared = self.prepare(config)?;
        self.commit(prepared);
        Ok(())
    }

    /// Checks and builds a configuration without applying it (the fallible half of
    /// [`Notifier::update`]); dropping the result changes nothing.
    pub fn prepare(&self, config: NotifierConfig) -> Result<PreparedSinks, InvalidNotifier> {
        build(config).map(PreparedSinks)
    }

    /// Applies a prepared configuration (the infallible half of [`Notifier::update`]).
    pub fn commit(&self, prepared: PreparedSinks) {
        let built = prepared.0;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.shut_down {
            warn!("notifier is shut down, configuration update ignored");
            return;
        }
        let mut previous = std::mem::take(&mut state.workers);
        let mut handles = Vec::with_capacity(built.len());
        for (config, delivery) in built {
            let worker = match previous.remove(&config.name) {
                Some(current) if current.config == config => current,
                Some(changed) => {
                    let _ = changed.signal.send(Signal::Handover);
                    info!(sink = %config.name, sink_type = config.target.kind(), "notification sink changed");
                    let counters = Arc::clone(&changed.handle.counters);
                    self.start(config, delivery, counters, Some(changed.task))
                }
                None => {
                    info!(sink = %config.name, sink_type = config.target.kind(), "notification sink added");
                    self.start(config, delivery, Arc::default(), None)
                }
            };
            handles.push(Arc::clone(&worker.handle));
            state.workers.insert(worker.config.name.clone(), worker);
        }
        for (name, removed) in previous {
            let _ = removed.signal.send(Signal::Abort);
            info!(sink = %name, "notification sink removed");
        }
        self.sinks.store(Arc::new(handles));
    }

    /// Every sink's counters and queue length, in configuration order.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks.load().iter().map(|sink| sink.stats()).collect()
    }

    /// Stops taking events and delivers what is queued, for at most `deadline`.
    ///
    /// Retries go on while the deadline allows. When it passes, every task stops and the events
    /// it had not delivered are dropped (counted, and reported in
    /// [`ShutdownReport::abandoned`]). Later [`Notifier::notify`] calls do nothing.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let until = tokio::time::Instant::now() + deadline;
        let handles = self.sinks.swap(Arc::new(Vec::new()));
        let mut workers = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.shut_down = true;
            std::mem::take(&mut state.workers)
        };
        // In configuration order; the handles (and so the queues' senders) go, so each task
        // ends once its queue is empty.
        let mut stopping = Vec::with_capacity(handles.len());
        for handle in handles.iter() {
            if let Some(worker) = workers.remove(&*handle.name) {
                let Worker { signal, task, .. } = worker;
                stopping.push((
                    signal,
                    task,
                    Arc::clone(&handle.counters),
                    handle.name.clone(),
                    handle.kind,
                ));
            }
        }
        drop(handles);
        drop(workers);

        let mut report = ShutdownReport {
            abandoned: 0,
            timed_out: false,
            sinks: Vec::with_capacity(stopping.len()),
        };
        for (signal, mut task, counters, name, kind) in stopping {
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                report.timed_out = true;
                let before = counters.dropped.load(Ordering::Relaxed);
                let _ = signal.send(Signal::Abort);
                if tokio::time::timeout(Duration::from_secs(1), &mut task)
                    .await
                    .is_err()
                {
                    task.abort();
                }
                report.abandoned += counters.dropped.load(Ordering::Relaxed) - before;
            }
            let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            report.sinks.push(SinkStats {
                name: name.to_string(),
                kind,
                delivered: load(&counters.delivered),
                retried: load(&counters.retried),
                dropped: load(&counters.dropped),
                failed: load(&counters.failed),
                queued: 0,
            });
        }
        if report.timed_out {
            warn!(
                abandoned = report.abandoned,
                "notifier shut down before every event was delivered"
            );
        } else {
            info!("notifier shut down, every queued event handled");
        }
        report
    }

    fn start(
        &self,
        config: SinkConfig,
        delivery: Delivery,
        counters: Arc<SinkCounters>,
        predecessor: Option<JoinHandle<Leftover>>,
    ) -> Worker {
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        let (signal, signals) = watch::channel(Signal::Run);
        let name: Arc<str> = config.name.as_str().into();
        let handle = Arc::new(SinkHandle {
            name: Arc::clone(&name),
            kind: config.target.kind(),
            pools: config.pools.clone(),
            rollouts: config.rollouts.clone(),
            queue,
            counters: Arc::clone(&counters),
            overflowing: AtomicBool::new(false),
        });
        let task = Task {
            name,
            delivery,
            retry: config.retry,
            counters,
            signals,
            rng: fastrand::Rng::new(),
        };
        let task = self.runtime.spawn(task.run(receiver, predecessor));
        Worker {
            config,
            handle,
            signal,
            task,
        }
    }
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self
            .sinks
            .load()
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        f.debug_struct("Notifier").field("sinks", &names).finish()
    }
}

/// Validates every sink and builds its delivery (clients, transports); nothing runs yet.
/// A notifier configuration checked and built, not yet in force ([`Notifier::prepare`]).
pub struct PreparedSinks(Vec<(SinkConfig, Delivery)>);

impl std::fmt::Debug for PreparedSinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedSinks")
            .field("sinks", &self.0.len())
            .finish()
    }
}

fn build(config: NotifierConfig) -> Result<Vec<(SinkConfig, Delivery)>, InvalidNotifier> {
    let mut names = HashSet::new();
    let mut built = Vec::with_capacity(config.sinks.len());
    for (index, sink) in config.sinks.into_iter().enumerate() {
        if sink.name.trim().is_empty() {
            return Err(InvalidNotifier::EmptyName { index });
        }
        if !names.insert(sink.name.clone()) {
            return Err(InvalidNotifier::DuplicateName { name: sink.name });
        }
        match check(&sink) {
            Ok(delivery) => built.push((sink, delivery)),
            Err(problem) => {
                return Err(InvalidNotifier::Sink {
                    sink: sink.name,
                    problem,
                })
            }
        }
    }
    Ok(built)
}

fn check(sink: &SinkConfig) -> Result<Delivery, SinkProblem> {
    if sink.queue_capacity == 0 || sink.queue_capacity > MAX_QUEUE_CAPACITY {
        return Err(SinkProblem::QueueCapacity(sink.queue_capacity));
    }
    let retry = &sink.retry;
    if retry.attempts == 0 || retry.attempts > MAX_ATTEMPTS {
        return Err(SinkProblem::Attempts(retry.attempts));
    }
    if retry.initial_backoff.is_zero() || retry.initial_backoff > retry.max_backoff {
        return Err(SinkProblem::Backoff);
    }
    if sink.pools.iter().any(|pool| pool.is_empty()) {
        return Err(SinkProblem::EmptyPoolName);
    }
    Ok(match &sink.target {
        SinkTarget::Webhook(webhook) => Delivery::Webhook(Box::new(WebhookSink::new(webhook)?)),
        SinkTarget::Email(email) => Delivery::Email(Box::new(EmailSink::new(email)?)),
    })
}

/// How a sink delivers.
enum Delivery {
    Webhook(Box<WebhookSink>),
    Email(Box<EmailSink>),
}

/// An event encoded for one sink, once, and reused by every attempt.
enum Payload {
    Json(Bytes),
    Mail(Mail),
}

impl Delivery {
    fn prepare(&self, event: &Event) -> Result<Payload, AttemptError> {
        match self {
            Delivery::Webhook(_) => Ok(Payload::Json(Bytes::from(event.to_json()))),
            Delivery::Email(email) => email.mail(event).map(Payload::Mail),
        }
    }

    async fn attempt(&self, payload: &Payload) -> Result<(), AttemptError> {
        match (self, payload) {
            (Delivery::Webhook(webhook), Payload::Json(body)) => webhook.attempt(body).await,
            (Delivery::Email(email), Payload::Mail(mail)) => email.attempt(mail).await,
            _ => Err(AttemptError::GiveUp {
                reason: "payload does not match the sink".to_owned(),
                code: None,
            }),
        }
    }
}

/// The background task of one sink.
struct Task {
    name: Arc<str>,
    delivery: Delivery,
    retry: RetryPolicy,
    counters: Arc<SinkCounters>,
    signals: watch::Receiver<Signal>,
    rng: fastrand::Rng,
}

impl Task {
    /// Delivers events until every queue is closed and empty (shutdown, or the notifier was
    /// dropped) or until told to stop.
    async fn run(
        mut self,
        receiver: mpsc::Receiver<Arc<Event>>,
        predecessor: Option<JoinHandle<Leftover>>,
    ) -> Leftover {
        let mut left = match predecessor {
            // The predecessor was told to hand over; it stops at its next step.
            Some(task) => task.await.unwrap_or_default(),
            None => Leftover::default(),
        };
        left.queues.push_back(receiver);
        loop {
            let event = match left.pending.take() {
                Some(event) => event,
                None => {
                    tokio::select! {
                        biased;
                        signal = signalled(&mut self.signals) => return self.stop(signal, left),
                        event = next(&mut left.queues) => match event {
                            Some(event) => event,
                            None => return left,
                        },
                    }
                }
            };
            if let Err(signal) = self.deliver(&event).await {
                left.pending = Some(event);
                return self.stop(signal, left);
            }
        }
    }

    fn stop(&self, signal: Signal, left: Leftover) -> Leftover {
        if signal != Signal::Abort {
            return left;
        }
        let undelivered = left.len();
        if undelivered > 0 {
            SinkCounters::add(&self.counters.dropped, undelivered);
            warn!(sink = %self.name, dropped = undelivered, "notification sink stopped, dropping undelivered events");
        }
        Leftover::default()
    }

    /// Delivers one event with retries; `Err` if told to stop meanwhile.
    async fn deliver(&mut self, event: &Event) -> Result<(), Signal> {
        let payload = match self.delivery.prepare(event) {
            Ok(payload) => payload,
            Err(error) => {
                self.failed(event, 1, error);
                return Ok(());
            }
        };
        let mut attempt = 1;
        loop {
            if attempt > 1 {
                SinkCounters::add(&self.counters.retried, 1);
            }
            let result = tokio::select! {
                biased;
                signal = signalled(&mut self.signals) => return Err(signal),
                result = self.delivery.attempt(&payload) => result,
            };
            let (reason, code, retry_after) = match result {
                Ok(()) => {
                    SinkCounters::add(&self.counters.delivered, 1);
                    debug!(sink = %self.name, kind = %event.kind, attempt, "notification delivered");
                    return Ok(());
                }
                Err(AttemptError::Retry {
                    reason,
                    code,
                    retry_after,
                }) if attempt < self.retry.attempts => (reason, code, retry_after),
                Err(error) => {
                    self.failed(event, attempt, error);
                    return Ok(());
                }
            };
            let wait = backoff(&self.retry, attempt, retry_after, &mut self.rng);
            info!(
                sink = %self.name,
                kind = %event.kind,
                attempt,
                code,
                error = %reason,
                retry_in_ms = wait.as_millis() as u64,
                "notification delivery failed, will retry"
            );
            tokio::select! {
                biased;
                signal = signalled(&mut self.signals) => return Err(signal),
                () = tokio::time::sleep(wait) => {}
            }
            attempt += 1;
        }
    }

    fn failed(&self, event: &Event, attempt: u32, error: AttemptError) {
        SinkCounters::add(&self.counters.failed, 1);
        let (reason, code, permanent) = match error {
            AttemptError::GiveUp { reason, code } => (reason, code, true),
            AttemptError::Retry { reason, code, .. } => (reason, code, false),
        };
        warn!(
            sink = %self.name,
            kind = %event.kind,
            attempt,
            code,
            permanent,
            error = %reason,
            "notification delivery failed, giving up"
        );
    }
}

/// Resolves when the task is told to stop; never if the notifier is gone without a word
/// (the task then drains its queues and ends).
async fn signalled(signals: &mut watch::Receiver<Signal>) -> Signal {
    let signal = signals
        .wait_for(|signal| *signal != Signal::Run)
        .await
        .map(|signal| *signal);
    match signal {
        Ok(signal) => signal,
        Err(_) => std::future::pending().await,
    }
}

/// The next event of the oldest open queue; `None` once every queue is closed and empty.
async fn next(queues: &mut VecDeque<mpsc::Receiver<Arc<Event>>>) -> Option<Arc<Event>> {
    while let Some(queue) = queues.front_mut() {
        if let Some(event) = queue.recv().await {
            return Some(event);
        }
        queues.pop_front();
    }
    None
}
