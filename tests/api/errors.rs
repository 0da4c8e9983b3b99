use poem::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn unknown_routes_use_the_shared_error_shape() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/nothing-here").await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn wrong_methods_use_the_shared_error_shape() {
    let app = TestApp::spawn().await;
    let r = app.client.put("/api/v1/cache/clear").send().await;
    let status = r.0.status();
    let text = r.0.into_body().into_string().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_FOUND,
        "{status}"
    );
    assert!(
        body["code"].is_string() && body["detail"].is_string(),
        "{text}"
    );
}

#[tokio::test]
async fn parse_errors_from_poem_use_the_shared_error_shape() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/artifacts?limit=abc").await;
    r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(r.body["detail"].as_str().unwrap().contains("limit"));
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.server.body_limit_bytes = 4096
    })
    .await;
    let r = app
        .client
        .post("/api/v1/cache/clear")
        .body(vec![b'x'; 10_000])
        .send()
        .await;
    let status = r.0.status();
    let body: serde_json::Value =
        serde_json::from_str(&r.0.into_body().into_string().await.unwrap()).unwrap();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
    // Nothing happened: the cache is still cold and untouched.
    assert_eq!(app.get("/api/v1/cache/status").await.body["entries"], 0);
}

#[tokio::test]
async fn database_failures_are_a_generic_error_without_internals() {
    let app = TestApp::spawn().await;
    app.state.db.clone().close().await.unwrap();
    let r = app.get("/api/v1/artifacts/skill:nested-tree").await;
    assert!(r.status.is_server_error(), "{}", r.status);
    assert!(
        r.body["code"] == "service_unavailable" || r.body["code"] == "internal_error",
        "{}",
        r.text
    );
    let detail = r.body["detail"].as_str().unwrap().to_lowercase();
    assert!(
        !detail.contains("sqlite") && !detail.contains("select") && !detail.contains("pool"),
        "{detail}"
    );
}

#[tokio::test]
async fn with_an_api_key_every_route_but_health_needs_it() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.auth.api_key = "s3cret-key-for-tests-0123456789abcdef".into()
    })
    .await;
    let r = app.get("/api/v1/artifacts").await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(!r.text.contains("s3cret"), "the key is never echoed");
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
    app.get("/openapi.json")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let with = |name: &'static str, value: &'static str| {
        let app = &app;
        async move {
            app.client
                .get("/api/v1/cache/status")
                .header(name, value)
                .send()
                .await
                .0
                .status()
        }
    };
    assert_eq!(
        with(
            "authorization",
            "Bearer s3cret-key-for-tests-0123456789abcdef"
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        with("x-api-key", "s3cret-key-for-tests-0123456789abcdef").await,
        StatusCode::OK
    );
    assert_eq!(
        with(
            "authorization",
            "Bearer s3cret-kez-for-tests-0123456789abcdef"
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(with("x-api-key", "s3cret").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        with("authorization", "s3cret-key-for-tests-0123456789abcdef").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn without_an_api_key_nothing_asks_for_one() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/v1/cache/status").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_browser_without_the_key_is_sent_to_sign_in_and_never_off_site() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.auth.api_key = crate::security::KEY.into()
    })
    .await;
    // A page asked for by a browser goes to the sign-in page, remembering where it was going.
    let page = app
        .client
        .get("/deployments?status=missing")
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await;
    page.assert_status(StatusCode::SEE_OTHER);
    page.assert_header("location", "/login?next=%2Fdeployments%3Fstatus%3Dmissing");
    let form = app.get("/login?next=%2Fdeployments").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("API key"), "{}", form.text);
    assert_eq!(app.get("/ui/app.css").await.status, StatusCode::OK);
    assert_eq!(app.get("/ui/app.js").await.status, StatusCode::UNAUTHORIZED);
    let sign_in = |key: &'static str, next: &'static str| {
        let app = &app;
        async move {
            app.client
                .post("/login")
                .form(&[("key", key), ("next", next)])
                .send()
                .await
                .0
        }
    };
    let wrong = sign_in("s3cret-kez-for-tests-0123456789abcdef", "/deployments").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    // Never a redirect to another site, nor a header broken by control characters.
    let away = sign_in(crate::security::KEY, "//evil.example/").await;
    assert_eq!(away.headers()["location"], "/");
    let split = sign_in(crate::security::KEY, "/jobs\r\nset-cookie: x=1").await;
    assert_eq!(split.headers()["location"], "/");
}

#[tokio::test]
async fn without_an_api_key_the_sign_in_page_sends_the_browser_on() {
    let app = TestApp::spawn().await;
    let r = app.client.get("/login?next=%2Fjobs").send().await;
    r.assert_status(StatusCode::SEE_OTHER);
    r.assert_header("location", "/jobs");
}

#[tokio::test]
async fn with_a_key_the_spec_declares_it_for_swagger_ui() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.auth.api_key = "s3cret-key-for-tests-0123456789abcdef".into()
    })
    .await;
    let spec = app
        .client
        .get("/openapi.json")
        .header("x-api-key", "s3cret-key-for-tests-0123456789abcdef")
        .send()
        .await;
    spec.assert_status_is_ok();
    let spec: serde_json::Value =
        serde_json::from_str(&spec.0.into_body().into_string().await.unwrap()).unwrap();
    assert_eq!(
        spec["components"]["securitySchemes"]["api_key"]["name"],
        "X-API-Key"
    );
    assert_eq!(
        spec["paths"]["/api/v1/artifacts"]["get"]["security"][0],
        serde_json::json!({"api_key": []})
    );
    assert_eq!(
        spec["paths"]["/health"]["get"]["security"],
        serde_json::json!([])
    );
    let docs = app
        .client
        .get("/docs")
        .header("x-api-key", "s3cret-key-for-tests-0123456789abcdef")
        .send()
        .await
        .0
        .into_body()
        .into_string()
        .await
        .unwrap();
    assert!(
        docs.contains("/docs/init.js"),
        "Swagger UI loads the spec that declares the key: {docs}"
    );

    // Without a key nothing is declared.
    let open = TestApp::spawn().await;
    let spec: serde_json::Value =
        serde_json::from_str(&open.get("/openapi.json").await.text).unwrap();
    assert!(spec["components"]["securitySchemes"].is_null());
    assert_eq!(open.get("/docs").await.status, StatusCode::OK);
}

/// A browser's CORS preflight for a GET with an API key header.
async fn preflight(app: &TestApp, origin: &str) -> poem::Response {
    app.client
        .options("/api/v1/artifacts")
        .header("origin", origin.to_string())
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-api-key")
        .send()
        .await
        .0
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    // Off by default: no CORS headers, so browsers refuse cross-origin reads.
    let off = TestApp::spawn().await;
    let r = preflight(&off, "https://app.example.com").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = off
        .client
        .get("/api/v1/cache/status")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .0;
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let on = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.server.cors_origins = vec!["https://app.example.com".into()]
    })
    .await;
    let r = preflight(&on, "https://app.example.com").await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = preflight(&on, "https://evil.example").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
