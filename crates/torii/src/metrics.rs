//! Prometheus metrics of the binary's edges, read at each scrape: notification sinks
//! (`torii_notification_*`, label `sink`) and the DNS responder (`torii_dns_*`).

use crate::lb::Notifications;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::sync::Arc;

/// Reads the notifier's per-sink counters and the DNS responder's counters.
pub struct EdgeCollector {
    /// The notifier of load-balancer and rollout events.
    pub notifications: Arc<Notifications>,
    /// The DNS responder, when `--dns` is on.
    pub dns: Option<torii_dns::DnsHandle>,
}

impl std::fmt::Debug for EdgeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeCollector").finish_non_exhaustive()
    }
}

impl Collector for EdgeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sinks = self.notifications.stats();
        let mut family = encoder.encode_descriptor(
            "torii_notification_events",
            "Events by sink and outcome (delivered, failed after retries, dropped unsent)",
            None,
            MetricType::Counter,
        )?;
        for sink in &sinks {
            for (outcome, n) in [
                ("delivered", sink.delivered),
                ("failed", sink.failed),
                ("dropped", sink.dropped),
            ] {
                let labels = [
                    ("sink", sink.name.as_str()),
                    ("kind", sink.kind),
                    ("outcome", outcome),
                ];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "torii_notification_retries",
            "Delivery attempts after an event's first",
            None,
            MetricType::Counter,
        )?;
        for sink in &sinks {
            ConstCounter::new(sink.retried)
                .encode(family.encode_family(&[("sink", sink.name.as_str())])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "torii_notification_queued",
            "Events waiting in the sink's queue",
            None,
            MetricType::Gauge,
        )?;
        for sink in &sinks {
            ConstGauge::new(sink.queued as i64)
                .encode(family.encode_family(&[("sink", sink.name.as_str())])?)?;
        }
        let Some(dns) = &self.dns else {
            return Ok(());
        };
        let dns = dns.metrics_snapshot();
        let mut family = encoder.encode_descriptor(
            "torii_dns_queries",
            "DNS queries received, by transport",
            None,
            MetricType::Counter,
        )?;
        for (transport, n) in [("udp", dns.udp_queries), ("tcp", dns.tcp_queries)] {
            ConstCounter::new(n).encode(family.encode_family(&[("transport", transport)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "torii_dns_responses",
            "DNS responses, by RCODE",
            None,
            MetricType::Counter,
        )?;
        for (rcode, n) in dns.by_rcode() {
            ConstCounter::new(n).encode(family.encode_family(&[("rcode", rcode)])?)?;
        }
        for (name, help, n) in [
            (
                "torii_dns_nodata",
                "NOERROR responses with no answer",
                dns.nodata,
            ),
            (
                "torii_dns_truncated",
                "UDP responses truncated to fit",
                dns.truncated,
            ),
            (
                "torii_dns_ecs_queries",
                "Queries with EDNS Client Subnet",
                dns.ecs,
            ),
            (
                "torii_dns_dropped",
                "Messages dropped without an answer",
                dns.dropped,
            ),
        ] {
            let family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(n).encode(family)?;
        }
        Ok(())
    }
}
