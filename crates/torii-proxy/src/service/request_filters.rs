//! Stage 3, request filters: a rule's (and then its chosen backend's) filters in order. Header
//! modifiers and rewrites change the request, redirects and CORS preflights answer it, mirrors
//! and response-side filters are collected into the [`Plan`] later stages carry out.

use crate::body::ResponseBody;
use crate::filters::{self, RedirectContext};
use crate::mirror::MirrorPlan;
use http::Response;
use torii_config::{Cors, HeaderModifier, HttpFilter, UrlRewrite};

/// Filters collected from a rule and its chosen backend.
#[derive(Default)]
pub(crate) struct Plan<'a> {
    /// The URL rewrite to apply to the upstream request.
    pub(crate) rewrite: Option<&'a UrlRewrite>,
    /// Mirrors sampled for this request.
    pub(crate) mirrors: Vec<MirrorPlan<'a>>,
    /// Response header modifiers, in order.
    pub(crate) response_modifiers: Vec<&'a HeaderModifier>,
    /// CORS settings (answers are decorated).
    pub(crate) cors: Option<&'a Cors>,
}

/// What a redirect needs of the request besides its path.
pub(crate) struct RedirectBase<'a> {
    /// `http` or `https`.
    pub(crate) scheme: &'static str,
    /// The request's host (lower-case, no port).
    pub(crate) host: &'a str,
    /// The port the request came in on.
    pub(crate) listener_port: u16,
    /// The rule's PathPrefix that matched, if any.
    pub(crate) matched_prefix: Option<&'a str>,
}

/// Applies filters in order; returns an answer when a filter ends the request.
pub(crate) fn apply<'a>(
    list: &'a [HttpFilter],
    parts: &mut http::request::Parts,
    plan: &mut Plan<'a>,
    redirect: &RedirectBase<'_>,
) -> Option<Response<ResponseBody>> {
    for filter in list {
        match filter {
            HttpFilter::RequestHeaderModifier(modifier) => {
                filters::modify_headers(&mut parts.headers, modifier)
            }
            HttpFilter::ResponseHeaderModifier(modifier) => plan.response_modifiers.push(modifier),
            HttpFilter::RequestRedirect(filter) => {
                let context = RedirectContext {
                    scheme: redirect.scheme,
                    host: redirect.host,
                    listener_port: redirect.listener_port,
                    path: parts.uri.path(),
                    query: parts.uri.query(),
                    matched_prefix: redirect.matched_prefix,
                };
                return Some(filters::redirect(filter, &context));
            }
            HttpFilter::UrlRewrite(rewrite) => plan.rewrite = Some(rewrite),
            HttpFilter::RequestMirror(mirror) => {
                if let Some(sampled) = MirrorPlan::sample(mirror) {
                    plan.mirrors.push(sampled);
                }
            }
            HttpFilter::Cors(cors) => {
                if let Some(response) = filters::cors_preflight(cors, &parts.method, &parts.headers)
                {
                    return Some(response);
                }
                plan.cors = Some(cors);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue, StatusCode};
    use torii_config::RequestRedirect;

    fn parts(target: &str) -> http::request::Parts {
        http::Request::builder()
            .uri(target)
            .header("host", "h")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    const BASE: RedirectBase<'static> = RedirectBase {
        scheme: "http",
        host: "h",
        listener_port: 80,
        matched_prefix: None,
    };

    #[test]
    fn filters_run_in_order_and_a_redirect_ends_the_request() {
        let set = HeaderModifier {
            set: vec![(
                HeaderName::from_static("x-set"),
                HeaderValue::from_static("1"),
            )],
            ..HeaderModifier::default()
        };
        let redirect = RequestRedirect {
            scheme: None,
            hostname: None,
            port: None,
            path: None,
            status: StatusCode::FOUND,
        };
        let list = vec![
            HttpFilter::RequestHeaderModifier(set.clone()),
            HttpFilter::ResponseHeaderModifier(set),
            HttpFilter::RequestRedirect(redirect),
        ];
        let mut request = parts("/a?b");
        let mut plan = Plan::default();
        let answer = apply(&list, &mut request, &mut plan, &BASE).expect("redirect answers");
        assert_eq!(answer.status(), StatusCode::FOUND);
        assert_eq!(request.headers["x-set"], "1");
        assert_eq!(plan.response_modifiers.len(), 1);
    }

    #[test]
    fn no_filters_change_nothing() {
        let mut request = parts("/a");
        let mut plan = Plan::default();
        assert!(apply(&[], &mut request, &mut plan, &BASE).is_none());
        assert!(plan.rewrite.is_none() && plan.mirrors.is_empty() && plan.cors.is_none());
    }
}
