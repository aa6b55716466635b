//! The smallest HTTP/1.1 client the KServe v2 REST protocol needs: one request at a time on a
//! kept-alive connection, bodies framed by Content-Length (or chunked, on the way back), and a
//! deadline per request that bounds connecting, writing and reading alike. No TLS, no proxies,
//! no redirects: an inference server sits on a trusted network next to the pipelines (a TLS
//! terminator in front of it is the deployment's business). Written here rather than taken
//! from a crate because this is all of it; docs/remote.md has the measured cost of the
//! alternative.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// A response: status code, the headers the protocol reads, and the body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// `Inference-Header-Content-Length`: where the JSON part of a binary response ends.
    pub inference_header_len: Option<usize>,
    pub body: Vec<u8>,
}

/// Why a request failed: `Transport` (connection refused or reset, timeout, a malformed
/// answer: worth another try on a fresh connection) or a complete HTTP answer (in `Response`).
#[derive(Debug)]
pub enum HttpError {
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Transport(why) => f.write_str(why),
        }
    }
}

/// Answers bigger than this are refused rather than allocated (a broken or hostile server).
const MAX_BODY: usize = 1 << 31;

/// One kept-alive connection to `host:port`.
pub struct Connection {
    reader: BufReader<TcpStream>,
    host: String,
}

fn remaining(deadline: Instant) -> Result<Duration, HttpError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(HttpError::Transport("timed out".into()));
    }
    Ok(left)
}

fn io_err(what: &str, e: std::io::Error) -> HttpError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            HttpError::Transport(format!("timed out while {what}"))
        }
        _ => HttpError::Transport(format!("{what}: {e}")),
    }
}

impl Connection {
    /// Connects to `host:port`, trying each address the name resolves to until `deadline`.
    pub fn open(host: &str, port: u16, deadline: Instant) -> Result<Self, HttpError> {
        let addrs =
            (host, port).to_socket_addrs().map_err(|e| HttpError::Transport(format!("cannot resolve {host}: {e}")))?;
        let mut last = HttpError::Transport(format!("{host} resolves to no address"));
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
                Ok(stream) => {
                    // Requests are written in one or two writes and answered at once: Nagle's
                    // delay would only add latency.
                    let _ = stream.set_nodelay(true);
                    // The Host header: an IPv6 literal in brackets, with the port.
                    let host = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
                    return Ok(Self { reader: BufReader::with_capacity(1 << 16, stream), host });
                }
                Err(e) => last = io_err(&format!("connecting to {addr}"), e),
            }
        }
        Err(last)
    }

    /// Sends one request and reads its answer, all before `deadline`. `headers` are extra
    /// header lines (name, value). After an error the connection must be dropped.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[&[u8]],
        deadline: Instant,
    ) -> Result<Response, HttpError> {
        let len: usize = body.iter().map(|b| b.len()).sum();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {len}\r\n", self.host);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.set_write_timeout(Some(remaining(deadline)?)).map_err(|e| io_err("setting a timeout", e))?;
        stream.write_all(head.as_bytes()).map_err(|e| io_err("sending the request", e))?;
        for part in body {
            stream.set_write_timeout(Some(remaining(deadline)?)).map_err(|e| io_err("setting a timeout", e))?;
            stream.write_all(part).map_err(|e| io_err("sending the request", e))?;
        }
        self.read_response(method == "HEAD", deadline)
    }

    fn line(&mut self, deadline: Instant) -> Result<String, HttpError> {
        let mut line = Vec::new();
        loop {
            self.reader
                .get_ref()
                .set_read_timeout(Some(remaining(deadline)?))
                .map_err(|e| io_err("setting a timeout", e))?;
            let n = (&mut self.reader)
                .take(16384 - line.len() as u64)
                .read_until(b'\n', &mut line)
                .map_err(|e| io_err("reading the answer", e))?;
            if line.ends_with(b"\n") {
                break;
            }
            if n == 0 {
                return Err(HttpError::Transport(if line.is_empty() {
                    "the server closed the connection".into()
                } else {
                    "a header line longer than 16 KiB, or cut short".into()
                }));
            }
        }
        let text = String::from_utf8_lossy(&line);
        Ok(text.trim_end_matches(['\r', '\n']).to_string())
    }

    fn exact(&mut self, n: usize, out: &mut Vec<u8>, deadline: Instant) -> Result<(), HttpError> {
        // The buffer grows as bytes arrive, 1 MiB at a time: a length a server only claims
        // costs nothing.
        let end = out.len() + n;
        let mut filled = out.len();
        while filled < end {
            if out.len() == filled {
                out.resize((filled + (1 << 20)).min(end), 0);
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(remaining(deadline)?))
                .map_err(|e| io_err("setting a timeout", e))?;
            match self.reader.read(&mut out[filled..]) {
                Ok(0) => return Err(HttpError::Transport("the server closed the connection mid-answer".into())),
                Ok(k) => filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err("reading the answer", e)),
            }
        }
        Ok(())
    }

    fn read_response(&mut self, head_only: bool, deadline: Instant) -> Result<Response, HttpError> {
        let status_line = self.line(deadline)?;
        let mut parts = status_line.splitn(3, ' ');
        let status = match (parts.next(), parts.next()) {
            (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code.parse::<u16>().ok(),
            _ => None,
        }
        .ok_or_else(|| HttpError::Transport(format!("not an HTTP answer: '{status_line}'")))?;
        let (mut length, mut chunked, mut inference_header_len) = (None, false, None);
        loop {
            let line = self.line(deadline)?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(value.parse::<usize>().map_err(|_| {
                        HttpError::Transport(format!("a Content-Length that is not a number: '{value}'"))
                    })?)
                }
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "inference-header-content-length" => inference_header_len = value.parse::<usize>().ok(),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if !head_only && status != 204 && status != 304 {
            if chunked {
                loop {
                    let size_line = self.line(deadline)?;
                    let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| HttpError::Transport(format!("a malformed chunk size '{size_line}'")))?;
                    if size == 0 {
                        while !self.line(deadline)?.is_empty() {}
                        break;
                    }
                    if size > MAX_BODY - body.len() {
                        return Err(HttpError::Transport("an answer over 2 GiB".into()));
                    }
                    self.exact(size, &mut body, deadline)?;
                    self.line(deadline)?;
                }
            } else {
                let n = length.ok_or_else(|| {
                    HttpError::Transport("an answer with neither Content-Length nor chunked encoding".into())
                })?;
                if n > MAX_BODY {
                    return Err(HttpError::Transport(format!("an answer of {n} bytes, over 2 GiB")));
                }
                self.exact(n, &mut body, deadline)?;
            }
        }
        Ok(Response { status, inference_header_len, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server on loopback that reads a request and writes `answer` verbatim.
    fn serve(answer: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            s.write_all(answer).unwrap();
        });
        port
    }

    fn get(port: u16) -> Result<Response, HttpError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        Connection::open("127.0.0.1", port, deadline)?.request("GET", "/", &[], &[], deadline)
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let r = get(serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nInference-Header-Content-Length: 2\r\n\r\nhello"))
            .unwrap();
        assert_eq!((r.status, r.body.as_slice(), r.inference_header_len), (200, &b"hello"[..], Some(2)));
        let r =
            get(serve(b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"))
                .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"abcde"[..]));
    }

    #[test]
    fn cut_short_and_garbage_answers_are_transport_errors() {
        let e = get(serve(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort")).unwrap_err();
        assert!(e.to_string().contains("closed the connection"), "{e}");
        let e = get(serve(b"SSH-2.0-OpenSSH\r\n")).unwrap_err();
        assert!(e.to_string().contains("not an HTTP answer"), "{e}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_millis(300);
        let e = Connection::open("127.0.0.1", port, deadline).unwrap().request("GET", "/", &[], &[], deadline);
        assert!(e.unwrap_err().to_string().contains("timed out"));
        assert!(t0.elapsed() < Duration::from_secs(3));
        drop(listener);
    }
}
