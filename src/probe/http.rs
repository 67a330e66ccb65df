//! The smallest HTTP/1.1 client the probe needs for signaling: one request per
//! connection over plain TCP (`http://` only), with a deadline on every step.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A parsed `http://host[:port]/path` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// Host name or address.
    pub host: String,
    /// Port (80 if the URL gives none).
    pub port: u16,
    /// Path and query, from the first `/` (`/` if none).
    pub path: String,
}

impl Url {
    /// Parses `text`; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Url, String> {
        let shown: String = text.chars().take(80).collect();
        if let Some(rest) = text.strip_prefix("https://") {
            let _ = rest;
            return Err(format!(
                "{shown}: https is not supported by the probe yet (use http://, or a local TLS-terminating proxy)"
            ));
        }
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| format!("{shown}: expected a URL starting with http://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(format!("{shown}: no host"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("{shown}: bad port {p:?}"))?;
                (h.to_string(), port)
            }
            _ => (authority.to_string(), 80),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("{shown}: bad host {host:?}"));
        }
        Ok(Url { host, port, path })
    }

    /// `scheme://host:port` followed by `location` when it is a path (a `Location` header).
    pub fn resolve(&self, location: &str) -> Result<Url, String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Url::parse(location);
        }
        let path = if location.starts_with('/') {
            location.to_string()
        } else {
            let base = self.path.rsplit_once('/').map_or("", |(b, _)| b);
            format!("{base}/{location}")
        };
        Ok(Url {
            host: self.host.clone(),
            port: self.port,
            path,
        })
    }
}

/// What the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request failed before an answer: the server could not be reached, or it did not
/// answer in time or in HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError(pub String);

/// Sends one request and reads the whole answer, each step within `timeout`.
pub fn request(
    method: &str,
    url: &Url,
    content_type: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpError> {
    let target = format!("{}:{}", url.host, url.port);
    let addr = target
        .to_socket_addrs()
        .map_err(|e| HttpError(format!("{target}: cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| HttpError(format!("{target}: no address")))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| HttpError(format!("{target}: cannot connect: {e}")))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        url.path,
        url.host,
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| HttpError(format!("{target}: sending the request: {e}")))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| HttpError(format!("{target}: reading the answer: {e}")))?;
    parse_response(&raw).map_err(|e| HttpError(format!("{target}: {e}")))
}

/// Parses a complete HTTP/1.1 answer.
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer is not HTTP (no end of headers)")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the answer's headers are not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        let shown: String = status_line.chars().take(40).collect();
        return Err(format!("the answer is not HTTP/1.x: {shown:?}"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("the answer has no status code")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        match headers.iter().find(|(n, _)| n == "content-length") {
            Some((_, v)) => {
                let n: usize = v.parse().map_err(|_| "bad Content-Length")?;
                rest.get(..n)
                    .ok_or("the answer is shorter than its Content-Length")?
                    .to_vec()
            }
            None => rest.to_vec(),
        }
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line has no end")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or("a chunk is cut short")?);
        rest = rest.get(size + 2..).ok_or("a chunk is cut short")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_what_is_wrong() {
        assert_eq!(
            Url::parse("http://127.0.0.1:8080/offer"),
            Ok(Url {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/offer".into()
            })
        );
        assert_eq!(Url::parse("http://example.org").map(|u| u.port), Ok(80));
        for bad in [
            "ftp://x",
            "http://",
            "http://h:port/",
            "https://x/y",
            "not a url",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_parse_with_length_or_chunks() {
        let r = parse_response(
            b"HTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nabcdef",
        )
        .expect("parses");
        assert_eq!(
            (r.status, r.header("location"), &r.body[..]),
            (201, Some("/x"), &b"abc"[..])
        );
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .expect("parses");
        assert_eq!(r.body, b"abcde");
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
