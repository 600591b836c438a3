//! Connection tests with raw bytes on the wire (duplex pipes and 127.0.0.1 sockets).

mod edge;
mod framing;
mod interop;
mod support;

use super::{RecvBody, RecvBodyError, ServerError, ServerOptions};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers with the request's method and target.
async fn echo_target(request: Request<RecvBody>) -> Response<Frames> {
    let text = format!("{} {}", request.method(), request.uri());
    let len = text.len() as u64;
    Response::new(Frames::new(vec![Ok(Frame::data(Bytes::from(text)))]).with_exact(len))
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let (mut client, task) = serve_duplex(ServerOptions::default(), echo_target);
    for i in 0..20 {
        client
            .send(format!("GET /n/{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .await;
        let response = client.response().await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.body, format!("GET /n/{i}").as_bytes());
        assert_eq!(
            response.header("content-length"),
            Some(&*response.body.len().to_string())
        );
        assert!(response.header("date").is_some());
        assert_eq!(response.header("connection"), None);
    }
    drop(client);
    assert!(
        task.await.unwrap().is_ok(),
        "a client closing between requests is clean"
    );
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (mut client, _task) = serve_duplex(ServerOptions::default(), echo_target);
    client
        .send(
            b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n\
              POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /4 HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        .await;
    for want in ["GET /1", "GET /2", "POST /3", "GET /4"] {
        assert_eq!(client.response().await.body, want.as_bytes());
    }
}

#[tokio::test]
async fn heads_split_at_every_byte_parse_the_same() {
    let request = b"POST /split?q=1 HTTP/1.1\r\nHost: example.com\r\nX-Long: abcdefghijklmnop\r\nContent-Length: 4\r\n\r\nbody";
    let service = |request: Request<RecvBody>| async move {
        let path = request.uri().to_string();
        let seen = collect(request.into_body()).await;
        let text = format!("{path} {}", String::from_utf8(seen.data).unwrap());
        let len = text.len() as u64;
        Response::new(Frames::new(vec![Ok(Frame::data(Bytes::from(text)))]).with_exact(len))
    };
    for split in 1..request.len() {
        let (mut client, _task) = serve_duplex(ServerOptions::default(), service);
        client.send(&request[..split]).await;
        tokio::task::yield_now().await;
        client.send(&request[split..]).await;
        let response = client.response().await;
        assert_eq!(response.body, b"/split?q=1 body", "split at {split}");
    }
    // And one byte per write, twice on the same connection.
    let (mut client, _task) = serve_duplex(ServerOptions::default(), service);
    for _ in 0..2 {
        for byte in request {
            client.send(&[*byte]).await;
            tokio::task::yield_now().await;
        }
        assert_eq!(client.response().await.body, b"/split?q=1 body");
    }
}

/// Answers with what the service saw of the body: length, frames, trailers.
async fn body_summary(request: Request<RecvBody>) -> Response<Frames> {
    let seen = collect(request.into_body()).await;
    let sum: u64 = seen.data.iter().map(|&b| u64::from(b)).sum();
    let trailer = seen
        .trailers
        .as_ref()
        .and_then(|t| t.get("x-checksum"))
        .map(|v| v.to_str().unwrap().to_string());
    let text = format!(
        "len={} sum={sum} frames>1={} trailer={trailer:?} error={:?}",
        seen.data.len(),
        seen.frames > 1,
        seen.error
    );
    let len = text.len() as u64;
    Response::new(Frames::new(vec![Ok(Frame::data(Bytes::from(text)))]).with_exact(len))
}

#[tokio::test]
async fn request_bodies_stream_to_the_service() {
    let data = pattern(200 * 1024);
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    let want = format!(
        "len={} sum={sum} frames>1=true trailer=None error=None",
        data.len()
    );
    let (mut client, _task) = serve_duplex(ServerOptions::default(), body_summary);
    // content-length, then chunked, on one connection
    let mut request = format!(
        "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    request.extend_from_slice(&data);
    client.send(&request).await;
    assert_eq!(client.response().await.body, want.as_bytes());
    let mut request =
        b"POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(&chunked(&data, 3000));
    client.send(&request).await;
    assert_eq!(client.response().await.body, want.as_bytes());
}

#[tokio::test]
async fn chunked_trailers_reach_the_service() {
    let (mut client, _task) = serve_duplex(ServerOptions::default(), body_summary);
    client
        .send(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 42\r\n\r\n")
        .await;
    let body = String::from_utf8(client.response().await.body).unwrap();
    assert!(body.starts_with("len=3 sum=294"), "{body}");
    assert!(body.contains("trailer=Some(\"42\")"), "{body}");
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_for_the_service() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut tx = Some(tx);
    let (mut client, task) = serve_duplex(
        ServerOptions::default(),
        move |request: Request<RecvBody>| {
            let tx = tx.take();
            async move {
                let seen = collect(request.into_body()).await;
                let _ = tx.unwrap().send(seen);
                text("x")
            }
        },
    );
    client
        .send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    client.io.shutdown().await.unwrap();
    let seen = rx.await.unwrap();
    assert_eq!(seen.data, b"abc");
    // The client went away: a client abort, not a malformed body.
    assert!(
        matches!(seen.error, Some(RecvBodyError::Closed(None))),
        "{:?}",
        seen.error
    );
    let _ = task.await.unwrap();
}

#[tokio::test]
async fn full_duplex_echo_of_a_large_body() {
    let addr =
        serve_tcp(|request: Request<RecvBody>| async move { Response::new(request.into_body()) })
            .await;
    for content_length in [true, false] {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let data = pattern(1 << 20);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            if content_length {
                let head = format!(
                    "PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
                    sent.len()
                );
                write.write_all(head.as_bytes()).await.unwrap();
                for piece in sent.chunks(10_000) {
                    write.write_all(piece).await.unwrap();
                }
            } else {
                write
                    .write_all(
                        b"PUT /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                    )
                    .await
                    .unwrap();
                write.write_all(&chunked(&sent, 7000)).await.unwrap();
            }
            write
        });
        let mut client = RawClient::new(&mut read);
        let response = client.response().await;
        assert_eq!(response.status, StatusCode::OK);
        if content_length {
            assert_eq!(response.header("content-length"), Some("1048576"));
        } else {
            assert_eq!(response.header("transfer-encoding"), Some("chunked"));
        }
        assert!(response.body == data, "echoed body differs");
        let _write = writer.await.unwrap();
    }
}

#[tokio::test]
async fn expect_continue_is_sent_when_the_body_is_wanted() {
    let (mut client, _task) = serve_duplex(ServerOptions::default(), body_summary);
    client
        .send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await;
    let interim = client.response().await;
    assert_eq!(interim.status, StatusCode::CONTINUE);
    client.send(b"hello").await;
    let response = client.response().await;
    assert!(response.body.starts_with(b"len=5"));
    assert_eq!(response.header("connection"), None);

    // A service that answers without reading: no 100, and the connection closes.
    let (mut client, _task) =
        serve_duplex(ServerOptions::default(), |_: Request<RecvBody>| async {
            text("no")
        });
    client
        .send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn bodiless_responses_carry_no_body() {
    let service = |request: Request<RecvBody>| async move {
        let status = match request.uri().path() {
            "/204" => StatusCode::NO_CONTENT,
            "/304" => StatusCode::NOT_MODIFIED,
            _ => StatusCode::OK,
        };
        let mut response = text("hello");
        *response.status_mut() = status;
        response
    };
    let (mut client, _task) = serve_duplex(ServerOptions::default(), service);
    client.send(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let response = client.response_to(&Method::HEAD).await;
    assert_eq!(response.header("content-length"), Some("5"));
    for (path, status) in [("/204", 204), ("/304", 304)] {
        client
            .send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .await;
        let response = client.response().await;
        assert_eq!(response.status.as_u16(), status);
        assert_eq!(response.header("transfer-encoding"), None);
        assert!(response.body.is_empty());
    }
    // Nothing of those bodies leaked into the stream: the next response parses.
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(client.response().await.body, b"hello");
}

#[tokio::test]
async fn http10_closes_unless_keep_alive() {
    let (mut client, _task) = serve_duplex(ServerOptions::default(), echo_target);
    client.send(b"GET /a HTTP/1.0\r\n\r\n").await;
    let response = client.response().await;
    assert_eq!(response.body, b"GET /a");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed().await);

    let (mut client, _task) = serve_duplex(ServerOptions::default(), echo_target);
    for _ in 0..2 {
        client
            .send(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await;
        let response = client.response().await;
        assert_eq!(response.header("connection"), Some("keep-alive"));
        assert_eq!(response.body, b"GET /b");
    }

    // Unknown length to an HTTP/1.0 client: close-delimited.
    let (mut client, _task) =
        serve_duplex(ServerOptions::default(), |_: Request<RecvBody>| async {
            Response::new(Frames::data(&["one ", "two"]))
        });
    client
        .send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.body, b"one two");
}

#[tokio::test]
async fn connection_close_from_either_side() {
    let (mut client, task) = serve_duplex(ServerOptions::default(), echo_target);
    client
        .send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(client.response().await.header("connection"), Some("close"));
    assert!(client.is_closed().await);
    assert!(task.await.unwrap().is_ok());

    let (mut client, _task) =
        serve_duplex(ServerOptions::default(), |_: Request<RecvBody>| async {
            let mut response = text("bye");
            response
                .headers_mut()
                .insert("connection", http::HeaderValue::from_static("close"));
            response
        });
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let response = client.response().await;
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.headers.get_all("connection").iter().count(), 1);
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn invalid_requests_get_400_and_close() {
    let cases: &[(&str, &[u8])] = &[
        ("garbage", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
        ("no version", b"GET /\r\n\r\n"),
        ("te and cl", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
        ("two lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        ("missing host", b"GET / HTTP/1.1\r\n\r\n"),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n"),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        ("bad chunked te", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
    ];
    for (name, request) in cases {
        let (mut client, task) = serve_duplex(ServerOptions::default(), echo_target);
        client.send(request).await;
        let response = client.response().await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(response.header("connection"), Some("close"), "{name}");
        assert_eq!(response.header("content-length"), Some("0"), "{name}");
        drop(client);
        assert!(
            matches!(task.await.unwrap(), Err(ServerError::InvalidRequest)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let options = ServerOptions {
        max_head_bytes: 1024,
        max_headers: 10,
        ..ServerOptions::default()
    };
    let many: String = (0..11).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases = [
        (
            "too many headers",
            format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n"),
        ),
        (
            "too large, complete",
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
                "b".repeat(2000)
            ),
        ),
        (
            "too large, never ends",
            format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}", "b".repeat(5000)),
        ),
    ];
    for (name, request) in cases {
        let (mut client, task) = serve_duplex(options.clone(), echo_target);
        client.send(request.as_bytes()).await;
        let response = client.response().await;
        assert_eq!(
            response.status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{name}"
        );
        assert!(client.is_closed().await, "{name}");
        drop(client);
        assert!(
            matches!(task.await.unwrap(), Err(ServerError::HeadTooLarge)),
            "{name}"
        );
    }
    // Just under the limits is fine.
    let (mut client, _task) = serve_duplex(options, echo_target);
    let some: String = (0..9).map(|i| format!("X-{i}: v\r\n")).collect();
    client
        .send(format!("GET / HTTP/1.1\r\nHost: a\r\n{some}\r\n").as_bytes())
        .await;
    assert_eq!(client.response().await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_length_responses_are_chunked_with_trailers() {
    let (mut client, _task) =
        serve_duplex(ServerOptions::default(), |_: Request<RecvBody>| async {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            Response::new(Frames::new(vec![
                Ok(Frame::data(Bytes::from_static(b"hello "))),
                Ok(Frame::data(Bytes::from(vec![b'x'; 20_000]))),
                Ok(Frame::trailers(trailers)),
            ]))
        });
    for _ in 0..2 {
        client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        let response = client.response().await;
        assert_eq!(response.header("transfer-encoding"), Some("chunked"));
        assert_eq!(response.body.len(), 20_006);
        assert!(response.body.starts_with(b"hello xx"));
        assert_eq!(response.trailers.unwrap()["grpc-status"], "0");
    }
}

#[tokio::test]
async fn streamed_response_frames_are_written_as_they_come() {
    let (frames_tx, frames_rx) = tokio::sync::mpsc::channel(4);
    let mut frames_rx = Some(frames_rx);
    let (mut client, _task) =
        serve_duplex(ServerOptions::default(), move |_: Request<RecvBody>| {
            let rx = frames_rx.take().unwrap();
            async move { Response::new(Channel(rx)) }
        });
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    frames_tx
        .send(Ok(Frame::data(Bytes::from_static(b"first"))))
        .await
        .unwrap();
    // The first chunk arrives before the body ends.
    let mut seen = Vec::new();
    while !seen.ends_with(b"5\r\nfirst\r\n") {
        let mut buf = [0u8; 256];
        let n = client.io.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    frames_tx
        .send(Ok(Frame::data(Bytes::from_static(b"second"))))
        .await
        .unwrap();
    drop(frames_tx);
    let mut rest = Vec::new();
    while !rest.ends_with(b"0\r\n\r\n") {
        let mut buf = [0u8; 256];
        let n = client.io.read(&mut buf).await.unwrap();
        assert!(n > 0);
        rest.extend_from_slice(&buf[..n]);
    }
    assert_eq!(rest, b"6\r\nsecond\r\n0\r\n\r\n");
}

#[tokio::test]
async fn a_failing_response_body_closes_the_connection() {
    let (mut client, task) = serve_duplex(ServerOptions::default(), |_: Request<RecvBody>| async {
        Response::new(Frames::new(vec![
            Ok(Frame::data(Bytes::from_static(b"partial"))),
            Err("upstream reset".into()),
        ]))
    });
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let rest = client.rest().await;
    let text = String::from_utf8(rest).unwrap();
    assert!(text.contains("7\r\npartial\r\n"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "never a clean end: {text}");
    assert!(matches!(
        task.await.unwrap(),
        Err(ServerError::ResponseBody(_))
    ));

    // Fewer bytes than the content-length promised: closed too.
    let (mut client, task) = serve_duplex(ServerOptions::default(), |_: Request<RecvBody>| async {
        Response::new(Frames::data(&["abc"]).with_exact(10))
    });
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let text = String::from_utf8(client.rest().await).unwrap();
    assert!(
        text.contains("content-length: 10\r\n") && text.ends_with("abc"),
        "{text}"
    );
    assert!(matches!(task.await.unwrap(), Err(ServerError::BodyLength)));
}
