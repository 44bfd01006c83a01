//! A local S3 server (moto) for the tests, and reading a dataset back from it.
//!
//! `scripts/test` installs moto and starts one server, exporting `BBPIPE_TEST_S3_ENDPOINT`.
//! Run without it (plain `cargo test`), the first test that needs S3 starts its own
//! `moto_server` on a free loopback port, bounded by `timeout` so it never outlives the tests.

use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const KEY: &str = "bbpipe-test";

/// The endpoint of the local S3 server, starting one if needed.
pub fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            if let Ok(endpoint) = std::env::var("BBPIPE_TEST_S3_ENDPOINT") {
                return endpoint;
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let started = Command::new("timeout")
                .args([
                    "900",
                    "moto_server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            assert!(
                started.is_ok(),
                "moto_server is needed for the S3 tests: run scripts/test, which installs it"
            );
            let endpoint = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(20);
            while request("GET", &endpoint, "/").is_err() {
                assert!(
                    Instant::now() < deadline,
                    "moto_server did not start on {endpoint}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            endpoint
        })
        .clone()
}

/// A fresh bucket, unique to the calling test.
pub fn bucket(name: &str) -> String {
    let bucket = format!("{}-{}", name.replace('_', "-"), std::process::id());
    let status = request("PUT", &endpoint(), &format!("/{bucket}")).expect("create bucket");
    assert!(
        status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200"),
        "{status}"
    );
    bucket
}

/// The environment bbpipe needs to reach the local server.
pub fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", KEY.into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

fn request(method: &str, endpoint: &str, path: &str) -> std::io::Result<String> {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

pub fn store(bucket: &str) -> std::sync::Arc<dyn ObjectStore> {
    std::sync::Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(endpoint())
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_access_key_id(KEY)
            .with_secret_access_key(KEY)
            .with_region("us-east-1")
            .build()
            .unwrap(),
    )
}

/// Copies every object under `prefix` of `bucket` into `to`, to read it like a local dataset.
pub fn download(bucket: &str, prefix: &str, to: &Path) {
    use futures::TryStreamExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = store(bucket);
        let prefix = object_store::path::Path::from(prefix);
        let objects: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
        for object in objects {
            let relative = object
                .location
                .as_ref()
                .strip_prefix(prefix.as_ref())
                .unwrap()
                .trim_start_matches('/');
            let target = to.join(relative);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            let bytes = store
                .get(&object.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            std::fs::write(target, bytes).unwrap();
        }
    });
}
