//! HTTP/1.1 as the mock speaks it: one request per connection, read into a [`Request`];
//! answers are [`Response`]s, written whole (or cut short, for the faults that do that).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// A request: its target as sent, its Authorization header, the decoded path and query.
pub struct Request {
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
    /// The body (the token endpoint's form), as text.
    pub body: String,
    pub path: String,
    params: Vec<(String, String)>,
}

impl Request {
    /// Reads the request line and headers; `None` when the client went away.
    pub fn read(stream: &TcpStream) -> Option<Request> {
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let method = line.split_whitespace().next().unwrap_or("GET").to_string();
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut authorization = None;
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("authorization") {
                    authorization = Some(value.trim().to_string());
                } else if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0).min(1 << 20);
                }
            }
        }
        let mut body = vec![0u8; length];
        std::io::Read::read_exact(&mut reader, &mut body).ok()?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let path = percent_decode(path);
        let params = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), percent_decode(v)))
            .collect();
        Some(Request {
            method,
            target,
            authorization,
            body,
            path,
            params,
        })
    }

    /// A query parameter, decoded.
    /// Every value of a repeated query parameter, decoded.
    pub fn params(&self, name: &str) -> Vec<String> {
        let named = self.params.iter().filter(|(k, _)| k == name);
        named.map(|(_, v)| v.clone()).collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The path's segments (`["repositories", "acme", "api", "pipelines"]`).
    pub fn parts(&self) -> Vec<&str> {
        self.path.trim_start_matches('/').split('/').collect()
    }
}

/// An answer.
pub enum Response {
    /// Status line, content type and body, with a matching Content-Length.
    Whole {
        status: String,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// These bytes as they are, then the connection closed (`reset`: shut down at once).
    Raw { bytes: Vec<u8>, reset: bool },
}

impl Response {
    pub fn new(status: &str, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response::Whole {
            status: status.to_string(),
            content_type,
            body: body.into(),
        }
    }

    /// 200 with a JSON body.
    pub fn ok(body: &Value) -> Response {
        Response::new("200 OK", "application/json", body.to_string())
    }

    /// Bitbucket's JSON error body.
    pub fn error(status: &str, message: &str, detail: Value) -> Response {
        let body = json!({"type": "error", "error": {"message": message, "detail": detail}});
        Response::new(status, "application/json", body.to_string())
    }

    /// 404 with Bitbucket's error body.
    pub fn not_found(message: &str) -> Response {
        Response::error("404 Not Found", message, Value::Null)
    }

    pub fn write(self, stream: &mut TcpStream) {
        match self {
            Response::Whole {
                status,
                content_type,
                body,
            } => {
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
            Response::Raw { bytes, reset } => {
                let _ = stream.write_all(&bytes);
                if reset {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
            }
        }
    }
}

pub fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
