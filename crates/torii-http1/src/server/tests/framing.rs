//! Framing edge cases on a live connection, raw bytes in: what the client hears (400, 501,
//! 408) and what the service sees (one Content-Length, trailers, typed body errors).

use super::echo_target;
use super::support::*;
use crate::codec::DecodeError;
use crate::server::{RecvBody, RecvBodyError, ServerError, ServerOptions};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Expects the server's own error answer (`connection: close`, empty) and the close after it.
async fn expect_refusal<T>(client: &mut RawClient<T>, status: u16, name: &str)
where
    T: tokio::io::AsyncRead + Unpin,
{
    let response = client.response().await;
    assert_eq!(response.status.as_u16(), status, "{name}");
    assert_eq!(response.header("connection"), Some("close"), "{name}");
    assert_eq!(response.header("content-length"), Some("0"), "{name}");
    assert!(client.is_closed().await, "{name}: closed after the answer");
}

/// RFC 9112 §6.1: a transfer coding the server does not implement (anything but one final
/// `chunked`, so also chunked twice) is answered 501 and the connection closed; chunked not
/// final (§6.3) and Transfer-Encoding on HTTP/1.0 (§6.1, faulty framing) are 400.
#[tokio::test]
async fn transfer_codings_get_501_or_400_and_a_close() {
    let cases: &[(&str, &[&str], u16)] = &[
        ("HTTP/1.1", &["chunked, chunked"], 501),
        ("HTTP/1.1", &["chunked", "chunked"], 501),
        ("HTTP/1.1", &["gzip, chunked"], 501),
        ("HTTP/1.1", &["gzip", "chunked"], 501),
        ("HTTP/1.1", &["identity, chunked"], 501),
        ("HTTP/1.1", &["x-unknown, chunked"], 501),
        ("HTTP/1.1", &["gzip"], 400),
        ("HTTP/1.1", &["identity"], 400),
        ("HTTP/1.1", &["chunked, gzip"], 400),
        ("HTTP/1.1", &["chunked", "x-unknown"], 400),
        ("HTTP/1.0", &["chunked"], 400),
        ("HTTP/1.0", &["gzip, chunked"], 400),
    ];
    for (version, codings, status) in cases {
        let fields: String = codings
            .iter()
            .map(|c| format!("Transfer-Encoding: {c}\r\n"))
            .collect();
        let request = format!("POST / {version}\r\nHost: a\r\n{fields}\r\n3\r\nabc\r\n0\r\n\r\n");
        let name = format!("{version} {codings:?}");
        let (mut client, task) = serve_duplex(ServerOptions::default(), echo_target);
        client.send(request.as_bytes()).await;
        expect_refusal(&mut client, *status, &name).await;
        drop(client);
        let result = task.await.unwrap();
        match status {
            501 => assert!(
                matches!(result, Err(ServerError::UnsupportedTransferCoding)),
                "{name}: {result:?}"
            ),
            _ => assert!(
                matches!(result, Err(ServerError::InvalidRequest)),
                "{name}: {result:?}"
            ),
        }
    }
}

/// RFC 9112 §3.2: Host is required in HTTP/1.1 only; more than one Host field, or a value
/// that is not `uri-host [ ":" port ]`, is 400 in any version.
#[tokio::test]
async fn host_rules_by_version() {
    let cases: &[(&[u8], Option<&str>)] = &[
        (b"GET /a HTTP/1.0\r\n\r\n", Some("GET /a")),
        (b"GET /a HTTP/1.0\r\nHost: a\r\n\r\n", Some("GET /a")),
        (b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n", Some("GET /a")),
        (
            b"GET /a HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            Some("GET /a"),
        ),
        (
            b"GET /a HTTP/1.1\r\nHost: xn--bcher-kva.example:443\r\n\r\n",
            Some("GET /a"),
        ),
        (b"GET /a HTTP/1.1\r\nHost:\r\n\r\n", Some("GET /a")),
        (b"GET /a HTTP/1.1\r\n\r\n", None),
        (b"GET /a HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", None),
        (b"GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", None),
        (b"GET /a HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", None),
        (b"GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", None),
        (b"GET /a HTTP/1.1\r\nHost: a/b\r\n\r\n", None),
        (b"GET /a HTTP/1.1\r\nHost: user@a\r\n\r\n", None),
        (b"GET /a HTTP/1.1\r\nHost: a\"b\r\n\r\n", None),
        (b"GET /a HTTP/1.1\r\nHost: a\xffb\r\n\r\n", None),
    ];
    for (request, want) in cases {
        let name = String::from_utf8_lossy(request);
        let (mut client, _task) = serve_duplex(ServerOptions::default(), echo_target);
        client.send(request).await;
        match want {
            Some(body) => {
                let response = client.response().await;
                assert_eq!(response.status, StatusCode::OK, "{name:?}");
                assert_eq!(response.body, body.as_bytes(), "{name:?}");
            }
            None => expect_refusal(&mut client, 400, &name).await,
        }
    }
}

/// Answers with the Content-Length fields it was given and the body it read.
async fn lengths_and_body(request: Request<RecvBody>) -> Response<Frames> {
    let lengths: Vec<String> = request
        .headers()
        .get_all("content-length")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let path = request.uri().path().to_string();
    let seen = collect(request.into_body()).await;
    let text = format!("{path} {lengths:?} {}", String::from_utf8_lossy(&seen.data));
    let len = text.len() as u64;
    Response::new(Frames::new(vec![Ok(Frame::data(Bytes::from(text)))]).with_exact(len))
}

/// RFC 9110 §8.6, RFC 9112 §6.3 item 5: repeated equal Content-Length values are one length,
/// and the service (what a proxy forwards) gets exactly one field; the next request follows.
#[tokio::test]
async fn repeated_content_length_reaches_the_service_as_one_field() {
    let cases = [
        "Content-Length: 3\r\nContent-Length: 3\r\n",
        "Content-Length: 3, 3\r\n",
        "Content-Length: 3,3\r\nContent-Length: 3\r\n",
        "Content-Length: 3\r\n",
    ];
    for fields in cases {
        let (mut client, _task) = serve_duplex(ServerOptions::default(), lengths_and_body);
        let request = format!(
            "POST /p HTTP/1.1\r\nHost: a\r\n{fields}\r\nabcGET /next HTTP/1.1\r\nHost: a\r\n\r\n"
        );
        client.send(request.as_bytes()).await;
        assert_eq!(
            client.response().await.body,
            b"/p [\"3\"] abc",
            "{fields:?}"
        );
        assert_eq!(client.response().await.body, b"/next [] ", "{fields:?}");
    }
}

/// What a proxying service does: reads the body, reports what it saw, and answers 503 when
/// forwarding failed (the server must answer 400 instead for a malformed body).
fn reporting_service(
    seen: mpsc::UnboundedSender<Collected>,
) -> impl FnMut(
    Request<RecvBody>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<Frames>> + Send>>
       + Send
       + Clone
       + 'static {
    move |request: Request<RecvBody>| {
        let seen = seen.clone();
        Box::pin(async move {
            let collected = collect(request.into_body()).await;
            let failed = collected.error.is_some();
            let _ = seen.send(collected);
            let mut response = text(if failed { "upstream failed" } else { "ok" });
            if failed {
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            response
        })
    }
}

/// RFC 9112 §7.1: a malformed chunked body (strict chunk-size: 1*HEXDIG, no whitespace, no
/// `0x`, bounded; CRLF after data; trailers that parse) is a bad request: the service's body
/// fails with `Malformed`, and the client hears 400 from the server (not the service's 503),
/// then the connection closes.
#[tokio::test]
async fn malformed_chunked_bodies_get_400_whatever_the_service_answers() {
    use DecodeError::*;
    let long_line = format!("1;{}\r\n", "a".repeat(5000));
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "space after size",
            b"5 \r\nhello\r\n0\r\n\r\n".to_vec(),
            InvalidChunkSize,
        ),
        (
            "space before size",
            b" 5\r\nhello\r\n0\r\n\r\n".to_vec(),
            InvalidChunkSize,
        ),
        (
            "tab before ext",
            b"5\t;x\r\nhello\r\n0\r\n\r\n".to_vec(),
            InvalidChunkSize,
        ),
        (
            "0x prefix",
            b"0x5\r\nhello\r\n0\r\n\r\n".to_vec(),
            InvalidChunkSize,
        ),
        (
            "empty size",
            b"\r\nhello\r\n0\r\n\r\n".to_vec(),
            InvalidChunkSize,
        ),
        (
            "overflow",
            b"10000000000000000\r\nx\r\n".to_vec(),
            InvalidChunkSize,
        ),
        (
            "after a good chunk",
            b"3\r\nabc\r\nzz\r\n".to_vec(),
            InvalidChunkSize,
        ),
        (
            "bare LF in extension",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n".to_vec(),
            InvalidChunkExtension,
        ),
        (
            "no CRLF after data",
            b"3\r\nabcX\r\n0\r\n\r\n".to_vec(),
            InvalidChunkEnd,
        ),
        (
            "bad trailer",
            b"3\r\nabc\r\n0\r\nno colon\r\n\r\n".to_vec(),
            InvalidTrailers,
        ),
        ("chunk line too long", long_line.into_bytes(), TooLong),
    ];
    for (name, body, want) in cases {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (mut client, task) = serve_duplex(ServerOptions::default(), reporting_service(tx));
        let mut request =
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(&body);
        client.send(&request).await;
        expect_refusal(&mut client, 400, name).await;
        let seen = rx.recv().await.expect("the service ran");
        assert!(
            matches!(seen.error, Some(RecvBodyError::Malformed(e)) if e == want),
            "{name}: {:?}",
            seen.error
        );
        drop(client);
        let result = task.await.unwrap();
        assert!(
            matches!(result, Err(ServerError::InvalidBody(e)) if e == want),
            "{name}: {result:?}"
        );
    }
}

/// Once the response has started (here: a full-duplex echo), a malformed request body can no
/// longer change the status: the response is cut short and the connection closed.
#[tokio::test]
async fn a_malformed_body_after_the_response_started_cuts_it_short() {
    use DecodeError::InvalidChunkSize;
    let (client, task) = serve_duplex(
        ServerOptions::default(),
        |request: Request<RecvBody>| async move { Response::new(request.into_body()) },
    );
    let (mut read, mut write) = tokio::io::split(client.io);
    write
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"3\r\nabc\r\n") {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf))
            .await
            .expect("echo timed out")
            .unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(seen.starts_with(b"HTTP/1.1 200 OK\r\n"));
    write.write_all(b"zz\r\n").await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut rest))
        .await
        .expect("close timed out")
        .unwrap();
    assert!(!rest.ends_with(b"0\r\n\r\n"), "never a clean end: {rest:?}");
    assert!(!rest.windows(3).any(|w| w == b"400"), "{rest:?}");
    match task.await.unwrap() {
        Err(ServerError::ResponseBody(source)) => {
            let error = source.downcast_ref::<RecvBodyError>().expect("typed");
            assert!(
                matches!(error, RecvBodyError::Malformed(InvalidChunkSize)),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Answers a POST with its body and trailer names/values, anything else with its target.
async fn body_and_trailers(request: Request<RecvBody>) -> Response<Frames> {
    let target = format!("{} {}", request.method(), request.uri());
    let text = if request.method() == http::Method::POST {
        let seen = collect(request.into_body()).await;
        let mut trailers: Vec<String> = seen
            .trailers
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
            .collect();
        trailers.sort();
        format!(
            "{target} {} {trailers:?} {:?}",
            String::from_utf8_lossy(&seen.data),
            seen.error
        )
    } else {
        target
    };
    let len = text.len() as u64;
    Response::new(Frames::new(vec![Ok(Frame::data(Bytes::from(text)))]).with_exact(len))
}

/// RFC 9112 §7.1.2, §2.2: a trailer section ends at its first blank line (CRLF or bare LF);
/// the request pipelined after it is served as the next request, however the bytes arrive;
/// trailers that must not be trailers (RFC 9110 §6.5.1) never reach the service.
#[tokio::test]
async fn trailers_ended_by_a_bare_lf_leave_the_next_request_alone() {
    const POST: &[u8] =
        b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n";
    const NEXT: &[u8] = b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n";
    let want_post = "POST /t abc [\"x-checksum=42\", \"x-t=2\"] None";
    let sections: &[&[u8]] = &[
        b"X-Checksum: 42\nX-T: 2\nHost: evil\nContent-Length: 9\n\n",
        b"X-Checksum: 42\r\nX-T: 2\r\nHost: evil\r\nContent-Length: 9\r\n\r\n",
        b"X-Checksum: 42\nX-T: 2\r\nHost: evil\nContent-Length: 9\r\n\n",
    ];
    for section in sections {
        let wire = [POST, section, NEXT].concat();
        let shown = String::from_utf8_lossy(section);
        // All in one write.
        let (mut client, _task) = serve_duplex(ServerOptions::default(), body_and_trailers);
        client.send(&wire).await;
        assert_eq!(
            client.response().await.body,
            want_post.as_bytes(),
            "{shown:?}"
        );
        assert_eq!(client.response().await.body, b"GET /second", "{shown:?}");
        // Split at every byte of the body, trailers and the next request.
        for split in POST.len() - 11..wire.len() {
            let (mut client, _task) = serve_duplex(ServerOptions::default(), body_and_trailers);
            client.send(&wire[..split]).await;
            tokio::task::yield_now().await;
            client.send(&wire[split..]).await;
            let first = client.response().await;
            assert_eq!(first.body, want_post.as_bytes(), "{shown:?} split {split}");
            let second = client.response().await;
            assert_eq!(second.body, b"GET /second", "{shown:?} split {split}");
        }
    }
}

/// RFC 9110 §15.5.9: a client that sent part of a head and then stalls past the header read
/// timeout hears `408` with `connection: close`; a connection that sent nothing, and an idle
/// keep-alive connection, are closed without a word (as nginx does). Real sockets.
#[tokio::test]
async fn header_timeout_answers_408_only_to_a_started_head() {
    let options = ServerOptions {
        header_read_timeout: Duration::from_millis(200),
        keep_alive_timeout: Duration::from_millis(200),
        ..ServerOptions::default()
    };
    let addr = serve_tcp_with(options, echo_target).await;
    let connect = || async { tokio::net::TcpStream::connect(addr).await.unwrap() };

    // Part of a head, then nothing.
    let mut client = RawClient::new(connect().await);
    client
        .send(b"GET /slow HTTP/1.1\r\nHost: a\r\nX-Partial")
        .await;
    expect_refusal(&mut client, 408, "partial head").await;

    // Nothing at all.
    let mut client = RawClient::new(connect().await);
    assert!(
        client.is_closed().await,
        "a silent connection hears nothing"
    );

    // Idle after a response.
    let mut client = RawClient::new(connect().await);
    client.send(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(client.response().await.body, b"GET /a");
    assert!(
        client.is_closed().await,
        "an idle keep-alive connection hears nothing"
    );

    // Only empty lines (skipped before a request line) count as nothing.
    let mut client = RawClient::new(connect().await);
    client.send(b"\r\n\r\n").await;
    assert!(client.is_closed().await);
}

/// A client that resets the connection mid-body: the service sees `Closed` with the I/O
/// error as its source (a client abort, not a malformed body).
#[tokio::test]
async fn a_reset_mid_body_is_a_closed_body() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let addr = serve_tcp_with(ServerOptions::default(), reporting_service(tx)).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    // Wait until the server has read what was sent, then reset.
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.set_zero_linger().unwrap();
    drop(stream);
    let seen = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("service report timed out")
        .expect("the service ran");
    assert_eq!(seen.data, b"abc");
    match &seen.error {
        Some(RecvBodyError::Closed(Some(io))) => {
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
            assert!(std::error::Error::source(seen.error.as_ref().unwrap()).is_some());
        }
        other => panic!("{other:?}"),
    }
}
