//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! does it: every write carries the `resourceVersion` read (a `409 Conflict` means someone
//! else wrote first: read again), a lease held by another replica is taken over only after it
//! has not changed for its `leaseDurationSeconds` *as seen by this replica's clock* (so clock
//! skew between replicas does not matter), and the leader gives up leadership by itself when
//! it cannot confirm a renewal for [`LeaseOptions::renew_deadline`] — shorter than the
//! duration, so it has stopped writing before anyone else may start.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// Where the lease is and how it is held.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// The Lease's name.
    pub name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// Who this replica is (`holderIdentity`): [`identity`].
    pub identity: String,
    /// `leaseDurationSeconds`: how long others wait after the last renewal they saw.
    pub duration: Duration,
    /// How often the leader renews.
    pub renew_every: Duration,
    /// How often a replica that does not lead looks at the lease.
    pub retry_every: Duration,
    /// How long the leader keeps leading without a confirmed renewal (less than `duration`).
    pub renew_deadline: Duration,
}

impl LeaseOptions {
    /// The defaults (15 s lease, renewed every 5 s, looked at every second by the others,
    /// given up 10 s after the last confirmed renewal) for lease `namespace/name`.
    pub fn new(namespace: &str, name: &str, identity: String) -> LeaseOptions {
        LeaseOptions {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            identity,
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            retry_every: Duration::from_secs(1),
            renew_deadline: Duration::from_secs(10),
        }
    }
}

/// This replica's identity: `POD_NAME`, else `<hostname>-<pid>`.
pub fn identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|p| !p.is_empty()) {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "torii".to_owned());
    format!("{host}-{}", std::process::id())
}

/// A running election: whether this replica leads, and the handle to stop (and release).
pub struct Leadership {
    leader: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<oneshot::Sender<()>>>,
}

impl Leadership {
    /// Starts taking part in the election of `options`' lease.
    pub fn start(client: kube::Client, options: LeaseOptions) -> Leadership {
        let (sender, leader) = watch::channel(false);
        let (stop, stopped) = oneshot::channel();
        let elector = Elector {
            api: Api::namespaced(client, &options.namespace),
            options,
            observed: None,
            leader: sender,
            renewed_at: None,
            forbidden_reported: false,
        };
        tokio::spawn(elector.run(stopped));
        Leadership {
            leader,
            stop: Some(stop),
        }
    }

    /// `true` while this replica leads.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// Stops taking part: leadership ends at once (the receivers see `false`), and a lease
    /// this replica holds is released so another takes over without waiting for it to
    /// expire. Bounded by `timeout`.
    pub async fn release(mut self, timeout: Duration) {
        let Some(stop) = self.stop.take() else { return };
        let (done, released) = oneshot::channel();
        if stop.send(done).is_ok() {
            let _ = tokio::time::timeout(timeout, released).await;
        }
    }
}

/// What this replica last saw of the lease, and when (its own clock).
struct Observed {
    resource_version: String,
    at: Instant,
}

struct Elector {
    api: Api<Lease>,
    options: LeaseOptions,
    observed: Option<Observed>,
    leader: watch::Sender<bool>,
    /// When the last confirmed renewal (or acquisition) was sent.
    renewed_at: Option<Instant>,
    forbidden_reported: bool,
}

/// What one attempt found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This replica holds the lease (acquired or renewed).
    Held,
    /// Another replica holds it.
    Other,
    /// Someone wrote between the read and the write: read again now.
    Conflict,
}

impl Elector {
    async fn run(mut self, mut stop: oneshot::Receiver<oneshot::Sender<()>>) {
        loop {
            let sent = Instant::now();
            let attempt = tokio::time::timeout(self.options.retry_every * 5, self.attempt());
            let attempt = tokio::select! {
                attempt = attempt => attempt,
                done = &mut stop => return self.stop(done.ok()).await,
            };
            let wait = match attempt {
                Ok(Ok(Attempt::Held)) => {
                    self.renewed_at = Some(sent);
                    self.forbidden_reported = false;
                    self.set_leader(true);
                    self.options.renew_every
                }
                Ok(Ok(Attempt::Other)) => {
                    self.set_leader(false);
                    self.options.retry_every
                }
                Ok(Ok(Attempt::Conflict)) => {
                    // The next read says who holds it; a leader keeps leading until then
                    // (or until its deadline).
                    self.check_deadline();
                    Duration::ZERO
                }
                Ok(Err(error)) => {
                    self.report(&error);
                    self.check_deadline();
                    self.options.retry_every
                }
                Err(_) => {
                    tracing::warn!(lease = %self.lease(), "the lease request timed out");
                    self.check_deadline();
                    self.options.retry_every
                }
            };
            // A leader renews on time even if the attempt took long.
            let next = if wait == self.options.renew_every {
                sent + wait
            } else {
                Instant::now() + wait
            };
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                done = &mut stop => return self.stop(done.ok()).await,
            }
        }
    }

    fn lease(&self) -> String {
        format!("{}/{}", self.options.namespace, self.options.name)
    }

    fn set_leader(&self, leading: bool) {
        let changed = self.leader.send_if_modified(|current| {
            let changed = *current != leading;
            *current = leading;
            changed
        });
        if changed && leading {
            tracing::info!(lease = %self.lease(), identity = %self.options.identity, "leading: this replica writes status");
        } else if changed {
            tracing::info!(lease = %self.lease(), identity = %self.options.identity, "not leading: another replica writes status");
        }
    }

    /// A leader whose last confirmed renewal is older than the deadline steps down: others
    /// may take the lease over soon.
    fn check_deadline(&mut self) {
        let expired = self
            .renewed_at
            .is_none_or(|at| at.elapsed() >= self.options.renew_deadline);
        if *self.leader.borrow() && expired {
            tracing::warn!(lease = %self.lease(), "the lease could not be renewed in time; giving up leadership");
            self.set_leader(false);
        }
    }

    fn report(&mut self, error: &kube::Error) {
        let forbidden = matches!(error, kube::Error::Api(status) if status.code == 403);
        if forbidden && !self.forbidden_reported {
            self.forbidden_reported = true;
            tracing::error!(
                lease = %self.lease(),
                error = %error,
                "leader election is forbidden (RBAC): torii needs get, create and update on leases in this namespace; this replica serves but never writes status"
            );
        } else if !forbidden {
            tracing::warn!(lease = %self.lease(), error = %error, "lease request failed");
        }
    }

    /// One read, then an acquisition or a renewal if the lease is ours to take.
    async fn attempt(&mut self) -> Result<Attempt, kube::Error> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let duration = i32::try_from(self.options.duration.as_secs()).unwrap_or(15);
        let Some(lease) = self.api.get_opt(&self.options.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.options.name.clone()),
                    namespace: Some(self.options.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.options.identity.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Conflict),
                Err(error) => Err(error),
            };
        };
        let resource_version = lease.metadata.resource_version.clone().unwrap_or_default();
        if self
            .observed
            .as_ref()
            .is_none_or(|o| o.resource_version != resource_version)
        {
            self.observed = Some(Observed {
                resource_version: resource_version.clone(),
                at: Instant::now(),
            });
        }
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.options.identity;
        let held_for = spec
            .lease_duration_seconds
            .map_or(self.options.duration, |s| {
                Duration::from_secs(u64::try_from(s).unwrap_or(0))
            });
        let unchanged_since = self.observed.as_ref().map_or_else(Instant::now, |o| o.at);
        if !holder.is_empty() && !ours && unchanged_since.elapsed() < held_for {
            return Ok(Attempt::Other);
        }
        if !ours {
            tracing::info!(lease = %self.lease(), previous = %holder, "taking the lease over");
        }
        let spec = LeaseSpec {
            holder_identity: Some(self.options.identity.clone()),
            lease_duration_seconds: Some(duration),
            acquire_time: if ours {
                spec.acquire_time.clone()
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(
                spec.lease_transitions.unwrap_or(0) + i32::from(!ours && !holder.is_empty()),
            ),
            ..spec
        };
        let mut update = lease;
        update.spec = Some(spec);
        match self
            .api
            .replace(&self.options.name, &PostParams::default(), &update)
            .await
        {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Conflict),
            Err(error) => Err(error),
        }
    }

    /// Leadership ends; a lease this replica holds is released (holder cleared).
    async fn stop(self, done: Option<oneshot::Sender<()>>) {
        let was_leader = *self.leader.borrow();
        self.set_leader(false);
        if was_leader {
            match self.release().await {
                Ok(()) => tracing::info!(lease = %self.lease(), "lease released"),
                Err(error) => {
                    tracing::warn!(lease = %self.lease(), error = %error, "cannot release the lease; it expires by itself")
                }
            }
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    async fn release(&self) -> Result<(), kube::Error> {
        for _ in 0..3 {
            let Some(mut lease) = self.api.get_opt(&self.options.name).await? else {
                return Ok(());
            };
            let Some(spec) = lease.spec.as_mut() else {
                return Ok(());
            };
            if spec.holder_identity.as_deref() != Some(self.options.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
            match self
                .api
                .replace(&self.options.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}
