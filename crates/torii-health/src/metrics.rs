//! Prometheus metrics of origin health, read from the checker at scrape time (nothing is
//! kept between scrapes, and removed origins leave no stale series).

use crate::origin::OriginCell;
use crate::status::CheckResult;
use crate::target::OriginKey;
use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

type Index = Arc<ArcSwap<HashMap<OriginKey, Arc<OriginCell>>>>;

/// A Prometheus collector over a [`HealthChecker`](crate::HealthChecker)'s origins:
///
/// - `torii_origin_healthy{pool,origin}`: 1 when effectively healthy, else 0;
/// - `torii_origin_active_state{pool,origin,state}`: 1 for the current active state;
/// - `torii_origin_ejected{pool,origin}`: 1 while ejected;
/// - `torii_origin_check_rtt_seconds{pool,origin}` and
///   `torii_origin_check_rtt_smoothed_seconds{pool,origin}`: last and smoothed round trip;
/// - `torii_origin_last_check_timestamp_seconds{pool,origin}`: when the last check ended;
/// - `torii_origin_checks_total{pool,origin,result}`: checks by result;
/// - `torii_origin_ejections_total{pool,origin}`: ejections.
///
/// `pool` is `namespace/name`.
#[derive(Clone)]
pub struct HealthCollector {
    index: Index,
}

impl std::fmt::Debug for HealthCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCollector").finish_non_exhaustive()
    }
}

impl HealthCollector {
    pub(crate) fn new(index: Index) -> Self {
        Self { index }
    }
}

type Labels = Vec<(&'static str, String)>;

impl Collector for HealthCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let index = self.index.load();
        let mut cells: Vec<&Arc<OriginCell>> = index.values().collect();
        cells.sort_by(|a, b| a.key.cmp(&b.key));
        let statuses: Vec<(Labels, crate::OriginHealthStatus)> = cells
            .iter()
            .map(|cell| {
                let labels = vec![
                    ("pool", cell.key.pool.to_string()),
                    ("origin", cell.key.origin.to_string()),
                ];
                (labels, cell.status())
            })
            .collect();

        let gauge = |value: f64| ConstGauge::new(value);
        let flag = |on: bool| if on { 1.0 } else { 0.0 };

        let mut family = encoder.encode_descriptor(
            "torii_origin_healthy",
            "Whether the origin is healthy (active state up and not ejected)",
            None,
            MetricType::Gauge,
        )?;
        for (labels, status) in &statuses {
            gauge(flag(status.healthy)).encode(family.encode_family(labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "torii_origin_active_state",
            "The origin's active health-check state (1 for the current state)",
            None,
            MetricType::Gauge,
        )?;
        for (labels, status) in &statuses {
            let mut labels = labels.clone();
            labels.push(("state", status.active_state.as_str().to_string()));
            gauge(1.0).encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "torii_origin_ejected",
            "Whether outlier detection has ejected the origin",
            None,
            MetricType::Gauge,
        )?;
        for (labels, status) in &statuses {
            gauge(flag(status.ejected)).encode(family.encode_family(labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "torii_origin_check_rtt_seconds",
            "Round trip of the origin's last successful health check",
            None,
            MetricType::Gauge,
        )?;
        for (labels, status) in &statuses {
            if let Some(rtt) = status.rtt {
                gauge(rtt.as_secs_f64()).encode(family.encode_family(labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "torii_origin_check_rtt_smoothed_seconds",
            "Smoothed round trip of the origin's successful health checks",
            None,
            MetricType::Gauge,
        )?;
        for (labels, status) in &statuses {
            if let Some(rtt) = status.smoothed_rtt {
                gauge(rtt.as_secs_f64()).encode(family.encode_family(labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "torii_origin_last_check_timestamp_seconds",
            "When the origin's last health check ended (Unix time)",
            None,
            MetricType::Gauge,
        )?;
        for (labels, status) in &statuses {
            if let Some(at) = status.last_check {
                let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default();
                gauge(secs.as_secs_f64()).encode(family.encode_family(labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "torii_origin_checks",
            "Health checks of the origin by result",
            None,
            MetricType::Counter,
        )?;
        for (labels, status) in &statuses {
            for (result, count) in [
                (CheckResult::Success, status.checks_passed),
                (CheckResult::Failure, status.checks_failed),
            ] {
                let mut labels = labels.clone();
                let result = match result {
                    CheckResult::Success => "success",
                    CheckResult::Failure => "failure",
                };
                labels.push(("result", result.to_string()));
                ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "torii_origin_ejections",
            "Ejections of the origin by outlier detection",
            None,
            MetricType::Counter,
        )?;
        for (labels, status) in &statuses {
            ConstCounter::new(status.ejections_total).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}
