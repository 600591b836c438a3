//! Inputs the fuzz targets in `fuzz/` found, kept as tests of the public API.

use bytes::BytesMut;
use torii_http1::codec::{BodyDecoder, Framing};

/// Found by `fuzz/differential_http1`: a chunk extension holding a bare LF and control bytes
/// was accepted (the size line ends only at CRLF), where hyper refuses it. RFC 9112 §7.1.1:
/// a chunk extension is `;` name [ `=` token / quoted-string ], with no control characters;
/// a bare LF is what lenient parsers take as the end of the line (a smuggling vector).
#[test]
fn chunk_extension_with_control_bytes_is_refused() {
    for wire in [
        &b"0;ext\nabc\r\n\r\n"[..],
        b"0;a\x02\x00b\r\n\r\n",
        b"5;x\rhello\r\nhello\r\n0\r\n\r\n",
    ] {
        let mut buf = BytesMut::from(wire);
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        let result = loop {
            match decoder.decode(&mut buf) {
                Ok(Some(torii_http1::codec::Decoded::Data(_))) => continue,
                other => break other,
            }
        };
        assert!(
            result.is_err(),
            "{:?}: {result:?}",
            String::from_utf8_lossy(wire)
        );
    }
}

/// Found by `fuzz/http1_request_head`: an empty line before a request line whose CR and LF
/// arrive in different reads (`\r` | `\n\nGET ...`) was taken for the end of an empty head
/// and refused with 400, while the same bytes in one read were served (RFC 9112 §2.2: empty
/// lines before a request line are ignored; a bare CR is not one and is refused).
#[tokio::test]
async fn an_empty_line_split_across_reads_is_skipped() {
    use http::Response;
    use http_body_util::Empty;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use torii_http1::server::{serve_connection, ServerOptions};

    for (first, second, status) in [
        (
            &b"\r"[..],
            &b"\n\nGET / HTTP/1.1\nHost: a\n\n"[..],
            &b"200"[..],
        ),
        (b"\r\n\r", b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", b"200"),
        (b"\r", b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", b"400"),
    ] {
        let (mut client, server) = tokio::io::duplex(4096);
        let task = tokio::spawn(async move {
            let options = ServerOptions::default();
            let service = |_request| async { Response::new(Empty::<bytes::Bytes>::new()) };
            serve_connection(server, &options, service, std::future::pending::<()>()).await
        });
        client.write_all(first).await.unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        client.write_all(second).await.unwrap();
        let mut response = [0u8; 12];
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client.read_exact(&mut response),
        )
        .await
        .expect("a response in time")
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&response[9..]),
            String::from_utf8_lossy(status),
            "{:?} then {:?}",
            String::from_utf8_lossy(first),
            String::from_utf8_lossy(second)
        );
        task.abort();
    }
}
