//! hyper's HTTP/1.1 client against this server, over 127.0.0.1.

use super::body_summary;
use super::support::*;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

#[tokio::test]
async fn hyper_client_get_and_post() {
    let addr = serve_tcp(body_summary).await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);

    for _ in 0..3 {
        let request = Request::get("/get")
            .header("host", "a")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(b"len=0 "), "{body:?}");
    }

    let data = pattern(300_000);
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    sender.ready().await.unwrap();
    let request = Request::post("/post")
        .header("host", "a")
        .body(Full::new(Bytes::from(data)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let want = format!("len=300000 sum={sum} frames>1=true");
    assert!(body.starts_with(want.as_bytes()), "{body:?}");
}

#[tokio::test]
async fn hyper_client_streams_a_chunked_body_and_reads_a_chunked_response() {
    let addr = serve_tcp(|request: Request<crate::server::RecvBody>| async move {
        http::Response::new(request.into_body())
    })
    .await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let request = Request::post("/echo")
        .header("host", "a")
        .body(Channel(rx))
        .unwrap();
    let writer = tokio::spawn(async move {
        for piece in pattern(100_000).chunks(9_000) {
            let frame = http_body::Frame::data(Bytes::copy_from_slice(piece));
            tx.send(Ok(frame)).await.unwrap();
        }
    });
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body == pattern(100_000), "echo differs");
    writer.await.unwrap();
}
