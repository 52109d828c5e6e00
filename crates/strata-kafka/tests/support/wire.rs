//! A bare Kafka connection for tests that must send what no well-behaved client sends (a
//! request before authentication, an old handshake version, a decompression bomb): frames
//! encoded with the `kafka-protocol` crate's client half, over a blocking socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// One client connection.
pub struct Wire {
    stream: TcpStream,
    correlation_id: i32,
}

impl Wire {
    pub fn connect(addr: SocketAddr) -> Wire {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Wire {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends a request, returning its correlation id.
    pub fn send<T: Encodable>(&mut self, key: ApiKey, version: i16, body: &T) -> i32 {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("wire-test")));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        header
            .encode(&mut frame, key.request_header_version(version))
            .unwrap();
        body.encode(&mut frame, version).unwrap();
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        self.send_raw(&frame);
        self.correlation_id
    }

    /// Writes bytes as they are (a size field included or not).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads one response frame; `None` when the broker closed the connection instead.
    pub fn receive_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        match self.stream.read_exact(&mut size) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                return None;
            }
            Err(e) => panic!("reading a response: {e}"),
        }
        let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut frame).unwrap();
        Some(Bytes::from(frame))
    }

    /// Reads the response to the request `correlation_id` of `key` at `version`.
    pub fn receive<T: Decodable>(&mut self, key: ApiKey, version: i16, correlation_id: i32) -> T {
        let mut frame = self.receive_frame().unwrap_or_else(|| {
            panic!("the broker closed the connection instead of answering {key:?}")
        });
        let header =
            ResponseHeader::decode(&mut frame, key.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, correlation_id);
        let body = T::decode(&mut frame, version).unwrap();
        assert!(!frame.has_remaining(), "bytes after the {key:?} response");
        body
    }

    /// Sends a request and reads its response.
    pub fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        body: &Req,
    ) -> Resp {
        let id = self.send(key, version, body);
        self.receive(key, version, id)
    }

    /// Whether the broker has closed the connection (reads end-of-stream, not a response).
    pub fn is_closed(&mut self) -> bool {
        self.receive_frame().is_none()
    }
}
