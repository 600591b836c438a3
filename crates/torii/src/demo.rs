//! `torii demo`: a working example with no outside service. Torii starts two example apps
//! itself (standing in for "the old VM app" and "the new Kubernetes app"), writes a config that
//! shows path and header routing, a weighted split and a mirror, serves it, and prints curl
//! commands to try. The config is a real directory: edit it and watch the change apply live.

use crate::{serve, RunArgs};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use torii_source_file::FileSource;

/// Arguments of `torii demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Port of the demo gateway on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Directory to write the demo config into (default: a new temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `torii demo`.
pub fn main(args: DemoArgs) -> ExitCode {
    crate::logging::init(args.run.log_format);
    let access = match crate::admin::access(&args.run) {
        Ok(access) => access,
        Err(error) => return serve::usage_error(&error),
    };
    let runtime = match serve::build_runtime(args.run.threads) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start: {error:#}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let vm = match start_app("vm-app", "v1").await {
            Ok(address) => address,
            Err(error) => {
                eprintln!("cannot start the example app: {error}");
                return ExitCode::from(1);
            }
        };
        let k8s = match start_app("k8s-app", "v2").await {
            Ok(address) => address,
            Err(error) => {
                eprintln!("cannot start the example app: {error}");
                return ExitCode::from(1);
            }
        };
        // A second copy of the VM app: the comparison learns noise from it.
        let vm_b = match start_app("vm-app", "v1").await {
            Ok(address) => address,
            Err(error) => {
                eprintln!("cannot start the example app: {error}");
                return ExitCode::from(1);
            }
        };
        let dir = args.dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("torii-demo-{}", std::process::id()))
        });
        let file = dir.join("demo.yaml");
        if let Err(error) = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&file, config(args.port, vm, k8s, vm_b)))
        {
            eprintln!("cannot write {}: {error}", file.display());
            return ExitCode::from(1);
        }
        let port = args.port;
        let admin = AdminCommands::new(args.run.admin, args.run.admin_token_file.as_deref());
        let on_ready = Box::new(move || print_instructions(port, &admin, &file));
        let mut run: RunArgs = args.run;
        run.default_address = std::net::Ipv4Addr::LOCALHOST.into();
        serve::run(
            crate::source::Source::Files(FileSource::new(vec![dir])),
            run,
            access,
            Some(on_ready),
        )
        .await
    })
}

/// How the printed commands reach the admin server (with the token file when one is set).
struct AdminCommands {
    /// `--admin ADDR [--admin-token-file FILE]` for the CLI.
    cli: String,
    /// The admin base URL and, with a token, the curl header that sends it.
    curl: String,
}

impl AdminCommands {
    fn new(admin: SocketAddr, token_file: Option<&std::path::Path>) -> AdminCommands {
        match token_file {
            None => AdminCommands {
                cli: format!("--admin {admin}"),
                curl: format!("http://{admin}"),
            },
            Some(file) => {
                let file = crate::invocation::quote(&file.display().to_string());
                AdminCommands {
                    cli: format!("--admin {admin} --admin-token-file {file}"),
                    curl: format!("-H \"Authorization: Bearer $(cat {file})\" http://{admin}"),
                }
            }
        }
    }
}

/// The commands to try; torii's own are written with the running binary's path, so they work
/// as printed when no `torii` is on the PATH (`cargo run --release -p torii -- demo`).
fn print_instructions(port: u16, admin: &AdminCommands, file: &std::path::Path) {
    let g = format!("http://127.0.0.1:{port}");
    let (cli, curl) = (&admin.cli, &admin.curl);
    println!(
        r#"
torii demo is running. Two example apps stand in for the old VM app (vm-app, v1) and the new
Kubernetes app (k8s-app, v2). Try:

  curl -s {g}/                                   # default: the VM app
  curl -s {g}/api/orders -H 'x-canary: true'     # header match: the Kubernetes app
  curl -s {g}/api/orders                         # same path without the header: the VM app
  for i in $(seq 20); do curl -s {g}/shop | grep -o '"app":"[a-z0-9-]*"'; done | sort | uniq -c
                                                 # weighted split: ~80% vm-app, ~20% k8s-app
  curl -s {g}/checkout                           # served by the VM app, mirrored to k8s-app
  curl -s -H 'Host: new.demo.local' {g}/         # hostname routing: the Kubernetes app
  curl -si {g}/old-docs/intro                    # redirect to /docs/intro
  curl -s -H 'Host: lb.demo.local' {g}/          # load balancer: k8s pool, VM pool on failover
  {torii} status {cli}                   # load balancers, pools, origin health
  for i in $(seq 20); do curl -s {g}/catalog >/dev/null; done
  {torii} diff {cli}                     # the VM app's answers vs the Kubernetes app's
  {torii} diff {cli} default/catalog --sample 1   # one difference side by side

  curl -s {curl}/api/v1/status             # Gateway API conditions
  curl -s {curl}/metrics | grep torii_requests

Edit {file} and the change applies within a second.
Ctrl-C stops the demo.
"#,
        file = file.display(),
        torii = crate::invocation::program(),
    );
}

/// The demo's resources (`vm_b`: a second instance of the VM app, the comparison's secondary).
pub fn config(port: u16, vm: SocketAddr, k8s: SocketAddr, vm_b: SocketAddr) -> String {
    format!(
        r#"# torii demo: a gateway in front of an old VM app and its new Kubernetes version.
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: torii}}
spec: {{controllerName: torii.dev/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: demo, namespace: default}}
spec:
  gatewayClassName: torii
  addresses: [{{type: IPAddress, value: 127.0.0.1}}]
  listeners:
  - {{name: http, protocol: HTTP, port: {port}}}
---
# The old app on VMs: a Service without selector, its endpoints listed by hand.
apiVersion: v1
kind: Service
metadata: {{name: vm-app, namespace: default}}
spec: {{ports: [{{name: http, port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: vm-app-1
  namespace: default
  labels: {{kubernetes.io/service-name: vm-app}}
addressType: IPv4
ports: [{{name: http, port: {vm_port}}}]
endpoints: [{{addresses: ["{vm_ip}"], conditions: {{ready: true}}}}]
---
# The new app in Kubernetes.
apiVersion: v1
kind: Service
metadata: {{name: k8s-app, namespace: default}}
spec: {{ports: [{{name: http, port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: k8s-app-1
  namespace: default
  labels: {{kubernetes.io/service-name: k8s-app}}
addressType: IPv4
ports: [{{name: http, port: {k8s_port}}}]
endpoints: [{{addresses: ["{k8s_ip}"], conditions: {{ready: true}}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: app, namespace: default}}
spec:
  parentRefs: [{{name: demo}}]
  rules:
  # Canary users (header) go to the new app.
  - matches:
    - path: {{type: PathPrefix, value: /api}}
      headers: [{{name: x-canary, value: "true"}}]
    backendRefs: [{{name: k8s-app, port: 80}}]
  - matches: [{{path: {{type: PathPrefix, value: /api}}}}]
    backendRefs: [{{name: vm-app, port: 80}}]
  # A weighted split: 80% old, 20% new.
  - matches: [{{path: {{type: PathPrefix, value: /shop}}}}]
    backendRefs:
    - {{name: vm-app, port: 80, weight: 80}}
    - {{name: k8s-app, port: 80, weight: 20}}
  # Served by the old app; the Comparison below mirrors it to the new one and compares.
  - name: catalog
    matches: [{{path: {{type: PathPrefix, value: /catalog}}}}]
    backendRefs: [{{name: vm-app, port: 80}}]
  # Served by the old app, mirrored to the new one (its answers are discarded).
  - matches: [{{path: {{type: PathPrefix, value: /checkout}}}}]
    filters:
    - type: RequestMirror
      requestMirror: {{backendRef: {{name: k8s-app, port: 80}}}}
    backendRefs: [{{name: vm-app, port: 80}}]
  - matches: [{{path: {{type: PathPrefix, value: /old-docs}}}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        path: {{type: ReplacePrefixMatch, replacePrefixMatch: /docs}}
        statusCode: 301
  # Everything else: the old app, with a response header that says who answered.
  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {{add: [{{name: x-served-via, value: torii}}]}}
    backendRefs: [{{name: vm-app, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: new-host, namespace: default}}
spec:
  parentRefs: [{{name: demo}}]
  hostnames: [new.demo.local]
  rules:
  - backendRefs: [{{name: k8s-app, port: 80}}]
---
# Global load balancing: the Kubernetes pool first, the VMs as failover, both health-checked.
apiVersion: torii.dev/v1alpha1
kind: HealthMonitor
metadata: {{name: http-check, namespace: default}}
spec: {{type: http, path: /healthz, interval: 5s, timeout: 1s}}
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {{name: k8s, namespace: default}}
spec:
  monitor: http-check
  origins: [{{name: k8s-app, serviceRef: {{name: k8s-app, port: 80}}}}]
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {{name: vms, namespace: default}}
spec:
  monitor: http-check
  origins: [{{name: vm-1, address: "{vm_ip}:{vm_port}"}}]
---
apiVersion: torii.dev/v1alpha1
kind: LoadBalancer
metadata: {{name: shop, namespace: default}}
spec:
  hostnames: [lb.demo.local]
  defaultPools: [k8s, vms]
  steering: {{policy: failover}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: global, namespace: default}}
spec:
  parentRefs: [{{name: demo}}]
  hostnames: [lb.demo.local]
  rules:
  - backendRefs: [{{group: torii.dev, kind: LoadBalancer, name: shop}}]
---
# Migration: a second copy of the VM app, and a Comparison of the VM app's answers on /catalog
# with the Kubernetes app's (torii diff shows the result).
apiVersion: v1
kind: Service
metadata: {{name: vm-app-b, namespace: default}}
spec: {{ports: [{{name: http, port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: vm-app-b
  namespace: default
  labels: {{kubernetes.io/service-name: vm-app-b}}
addressType: IPv4
ports: [{{name: http, port: {vm_b_port}}}]
endpoints: [{{addresses: ["{vm_b_ip}"], conditions: {{ready: true}}}}]
---
apiVersion: torii.dev/v1alpha1
kind: Comparison
metadata: {{name: catalog, namespace: default}}
spec:
  targetRef: {{kind: HTTPRoute, name: app, sectionName: catalog}}
  primary: {{name: vm-app, port: 80}}
  candidate: {{name: k8s-app, port: 80}}
  secondary: {{name: vm-app-b, port: 80}}
"#,
        vm_ip = vm.ip(),
        vm_port = vm.port(),
        vm_b_ip = vm_b.ip(),
        vm_b_port = vm_b.port(),
        k8s_ip = k8s.ip(),
        k8s_port = k8s.port(),
    )
}

/// Starts an example app on 127.0.0.1 that answers every request with JSON naming itself.
pub async fn start_app(app: &'static str, version: &'static str) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let served = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let served = served.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let n = served.fetch_add(1, Ordering::Relaxed) + 1;
                        async move { Ok::<_, Infallible>(answer(app, version, n, &request)) }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Ok(address)
}

fn answer(
    app: &str,
    version: &str,
    n: u64,
    request: &Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "authorization" | "cookie"))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                serde_json::Value::String(value.to_str().unwrap_or("").to_string()),
            )
        })
        .collect();
    let body = serde_json::json!({
        "app": app,
        "version": version,
        "request": n,
        "method": request.method().as_str(),
        "path": request.uri().to_string(),
        "headers": headers,
    });
    let mut text = body.to_string();
    text.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use torii_config::status::ConditionStatus;

    /// The demo's YAML loads without a problem and every object in it is accepted, the load
    /// balancer included.
    #[test]
    fn the_demo_config_is_valid() {
        let vm: SocketAddr = "127.0.0.1:10001".parse().expect("address");
        let k8s: SocketAddr = "127.0.0.1:10002".parse().expect("address");
        let mut report = torii_resources::LoadReport::default();
        torii_resources::parse_yaml(
            std::path::Path::new("demo.yaml"),
            &config(8080, vm, k8s, "127.0.0.1:10003".parse().expect("address")),
            &mut report,
        );
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let translation = torii_translate::translate(
            &report.set,
            &torii_translate::TranslateOptions {
                controller_name: "torii.dev/gateway-controller".into(),
                default_address: std::net::Ipv4Addr::LOCALHOST.into(),
            },
        );
        let status = &translation.status;
        let conditions = status
            .routes
            .iter()
            .flat_map(|r| r.parents.iter().flat_map(|p| &p.conditions))
            .chain(status.load_balancing.iter().flat_map(|o| &o.conditions))
            .chain(status.migrations.iter().flat_map(|o| &o.conditions));
        for condition in conditions {
            assert_eq!(condition.status, ConditionStatus::True, "{condition:?}");
        }
        assert_eq!(status.load_balancing.len(), 4);
        assert_eq!(translation.config.load_balancers.len(), 1);
        assert_eq!(status.migrations.len(), 1);
        assert_eq!(translation.config.comparisons.len(), 1);
    }
}
