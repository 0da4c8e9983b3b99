use poem::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_returns_ok_with_version() {
    let app = TestApp::spawn().await;
    let r = app.get("/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn ready_returns_200_when_the_database_answers() {
    for app in TestApp::all_backends().await {
        let r = app.get("/health/ready").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", app.backend);
        assert_eq!(r.body["database"], "ok");
    }
}

#[tokio::test]
async fn ready_returns_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.db.clone().close().await.unwrap();
    let r = app.get("/health/ready").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["status"], "unavailable");
}
