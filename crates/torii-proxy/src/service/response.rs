//! Stage 8, response: the upstream's answer made the client's. The primary's answer is
//! captured for a comparison as the upstream gave it; then hop-by-hop headers go (before torii
//! adds its own, so an upstream's `Connection` cannot remove them), affinity cookies, the
//! rule's response header modifiers and CORS are applied, and an accepted upgrade is spliced.

use super::request_filters::Plan;
use super::shadow::PrimarySink;
use crate::body::{CaptureBody, ResponseBody, Watch, WatchedUpstream};
use crate::error::ProxyError;
use crate::filters;
use crate::upstream::UpstreamBody;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use std::time::Duration;

/// What the response stage needs besides the upstream's answer.
pub(crate) struct Finish<'a> {
    /// Filters collected by stage 3.
    pub(crate) plan: &'a Plan<'a>,
    /// The request's `Origin` (for CORS).
    pub(crate) origin: Option<HeaderValue>,
    /// `Set-Cookie` values torii adds (load-balancer affinity, rollout side).
    pub(crate) cookies: [Option<HeaderValue>; 2],
    /// The downstream connection of a forwarded upgrade.
    pub(crate) upgrade: Option<torii_http1::OnUpgrade>,
    /// The comparison waiting for this answer.
    pub(crate) primary: Option<PrimarySink>,
    /// How the body may wait; a spliced upgrade may idle this long.
    pub(crate) watch: Watch,
    /// Idle limit of a spliced upgrade.
    pub(crate) upgrade_idle: Duration,
}

/// Turns the upstream's answer into the client's.
pub(crate) fn finish(
    response: Response<UpstreamBody>,
    finish: Finish<'_>,
) -> Result<Response<ResponseBody>, ProxyError> {
    let (mut parts, body) = response.into_parts();
    let body = WatchedUpstream::new(body, finish.watch);
    // The primary's answer as the upstream gave it, before torii's own header changes.
    let body = match finish.primary {
        Some(sink) => ResponseBody::Captured(Box::new(CaptureBody::new(
            body,
            parts.status.as_u16(),
            parts.headers.clone(),
            sink.limit,
            sink.primary,
        ))),
        None => ResponseBody::Upstream(body),
    };
    let upgraded = parts.status == StatusCode::SWITCHING_PROTOCOLS;
    if upgraded {
        // Only an upgrade torii forwarded may switch protocols; anything else is an upstream
        // answering what was not asked.
        let downstream = finish.upgrade.ok_or(ProxyError::UpstreamProtocol(
            "unrequested 101 Switching Protocols".into(),
        ))?;
        let upstream = parts
            .extensions
            .remove::<torii_http1::OnUpgrade>()
            .ok_or(ProxyError::UpstreamProtocol("upgrade not available".into()))?;
        tokio::spawn(splice_upgraded(downstream, upstream, finish.upgrade_idle));
    }
    decorate(
        &mut parts,
        upgraded,
        finish.cookies,
        finish.plan,
        finish.origin.as_ref(),
    );
    Ok(Response::from_parts(parts, body))
}

/// The response head as the client gets it: hop-by-hop headers gone (kept on a 101, whose
/// `Upgrade` and `Connection` are the switch), then torii's cookies, the rule's response
/// header modifiers and CORS.
fn decorate(
    parts: &mut http::response::Parts,
    upgraded: bool,
    cookies: [Option<HeaderValue>; 2],
    plan: &Plan<'_>,
    origin: Option<&HeaderValue>,
) {
    if !upgraded {
        super::headers::strip_response(&mut parts.headers);
    }
    for cookie in cookies.into_iter().flatten() {
        parts.headers.append(header::SET_COOKIE, cookie);
    }
    for modifier in &plan.response_modifiers {
        filters::modify_headers(&mut parts.headers, modifier);
    }
    if let Some(cors) = plan.cors {
        filters::cors_decorate(cors, origin, &mut parts.headers);
    }
}

async fn splice_upgraded(
    downstream: torii_http1::OnUpgrade,
    upstream: torii_http1::OnUpgrade,
    idle: Duration,
) {
    let (Ok(downstream), Ok(upstream)) = tokio::join!(downstream, upstream) else {
        return;
    };
    crate::io::splice(downstream, upstream, idle).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;
    use torii_config::HeaderModifier;

    fn parts(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
        let mut builder = Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn torii_headers_survive_the_upstream_connection_header() {
        let set = HeaderModifier {
            set: vec![(
                HeaderName::from_static("x-route"),
                HeaderValue::from_static("1"),
            )],
            ..HeaderModifier::default()
        };
        let plan = Plan {
            response_modifiers: vec![&set],
            ..Plan::default()
        };
        let mut head = parts(
            200,
            &[
                ("connection", "set-cookie, x-route, x-private"),
                ("x-private", "1"),
                ("keep-alive", "5"),
                ("set-cookie", "app=1"),
            ],
        );
        let cookies = [Some(HeaderValue::from_static("lb=a")), None];
        decorate(&mut head, false, cookies, &plan, None);
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(
            cookies,
            ["lb=a"],
            "the upstream's Connection removed its own cookie only"
        );
        assert_eq!(head.headers["x-route"], "1");
        assert!(!head.headers.contains_key("x-private"));
        assert!(!head.headers.contains_key("keep-alive"));
        assert!(!head.headers.contains_key("connection"));
    }

    #[test]
    fn switching_protocols_keeps_its_upgrade_headers() {
        let plan = Plan::default();
        let mut head = parts(101, &[("connection", "upgrade"), ("upgrade", "websocket")]);
        decorate(&mut head, true, [None, None], &plan, None);
        assert_eq!(head.headers["upgrade"], "websocket");
    }
}
