//! The router as `promenade serve` builds it, serving on a free loopback port in the
//! background: shared by the HTTP tests and the benchmarks.

use std::net::SocketAddr;
use std::path::Path;

use leptos::prelude::LeptosOptions;
use promenade_engine::Engine;
use promenade_server::{router, AppState};

/// Serves `engine` (pages from `site_root`) until the runtime ends; its address.
pub async fn spawn(engine: Engine, site_root: &Path) -> SocketAddr {
    // As `promenade serve` does: the replica starts driving releases.
    engine.resume().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let leptos_options = LeptosOptions::builder()
        .output_name("promenade")
        .site_root(site_root.display().to_string())
        .site_addr(addr)
        .build();
    let app = router(
        AppState {
            leptos_options,
            engine,
        },
        false,
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    addr
}
