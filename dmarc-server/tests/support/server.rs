//! The server under test: `dmarc serve`'s application on 127.0.0.1:0 over a real database,
//! and a client that logs in, calls and uploads.

use std::path::{Path, PathBuf};

use dmarc_server::config::Config;
use dmarc_server::{AppState, build_app, serve};
use dmarc_store::testing::{self, TestDb};
use dmarc_store::{Role, Store};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const PASSWORD: &str = "correct horse battery";

pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) store: Store,
    pub(crate) http: reqwest::Client,
    /// What the handlers share (its job queue runs jobs in tests).
    #[allow(dead_code)]
    pub(crate) state: AppState,
    _db: TestDb,
}

pub(crate) async fn start(db: TestDb, tweak: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::default();
    config.auth.bcrypt_cost = 4;
    tweak(&mut config);
    let store = Store::connect_with(&db.url, config.limits.query_timeout());
    let store = store.await.expect("connect");
    let state = AppState::new(store.clone(), config).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(serve(listener, build_app(state.clone())));
    Server {
        base,
        store,
        http: {
            // The one TLS provider (reqwest is built without one of its own).
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::new()
        },
        state,
        _db: db,
    }
}

pub(crate) async fn sqlite_server() -> Server {
    start(testing::sqlite(), |_| {}).await
}

/// A response's status and JSON body (`null` when empty or not JSON).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

/// How a request authenticates.
#[derive(Clone)]
pub(crate) enum Auth {
    None,
    Bearer(String),
    Key(String),
}

impl Server {
    pub(crate) async fn user(&self, email: &str, role: Role) -> i64 {
        let hash = bcrypt::hash(PASSWORD, 4).expect("hash");
        self.store
            .create_user(email, &hash, role)
            .await
            .expect("create")
            .id
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Answer {
        let mut request = authed(
            self.http.request(method, format!("{}{path}", self.base)),
            auth,
        );
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        answer(response).await
    }

    /// A GET whose body is kept as bytes (CSV, PDF): status and body.
    pub(crate) async fn get_bytes(&self, path: &str, auth: &Auth) -> (StatusCode, Vec<u8>) {
        let request = authed(self.http.get(format!("{}{path}", self.base)), auth);
        let response = request.send().await.expect("send");
        let status = response.status();
        (status, response.bytes().await.expect("body").to_vec())
    }

    pub(crate) async fn login(&self, email: &str, password: &str) -> Answer {
        self.call(
            Method::POST,
            "/auth/login",
            &Auth::None,
            Some(json!({ "email": email, "password": password })),
        )
        .await
    }

    /// Logs in and gives `(access, refresh)`.
    pub(crate) async fn tokens(&self, email: &str) -> (String, String) {
        let a = self.login(email, PASSWORD).await;
        assert_eq!(a.status, StatusCode::OK, "login {email}: {}", a.body);
        (
            a.body["access_token"].as_str().expect("access").to_owned(),
            a.body["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        )
    }

    pub(crate) async fn refresh(&self, token: &str) -> Answer {
        self.call(
            Method::POST,
            "/auth/refresh",
            &Auth::None,
            Some(json!({ "refresh_token": token })),
        )
        .await
    }

    pub(crate) async fn upload(&self, auth: &Auth, files: &[PathBuf]) -> Answer {
        let mut form = reqwest::multipart::Form::new();
        for path in files {
            let bytes = std::fs::read(path).expect("read");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            form = form.part(
                "files",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        let request = self
            .http
            .post(format!("{}/api/upload", self.base))
            .multipart(form);
        answer(authed(request, auth).send().await.expect("send")).await
    }
}

pub(crate) fn authed(request: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Key(key) => request.header("X-API-Key", key),
    }
}

pub(crate) async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

pub(crate) fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmarc-core/tests/data/corpus")
}

/// Every file of the corpus but the expected values (`reference/`).
pub(crate) fn corpus_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![corpus()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read corpus") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "reference") {
                    stack.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

pub(crate) fn one_report() -> PathBuf {
    corpus().join("aggregate/dmarcrua__0afe822aaa48402b8f6cf763e9396405.xml")
}
