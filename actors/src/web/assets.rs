//! The pages' stylesheet and script, compiled into the binary (no CDN: the dashboard works
//! offline) and served under names that carry a hash of their content, so a browser may
//! cache them for a year and still never runs an old script against a new page.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use flowstate_config::host::stable_hash;

/// The stylesheet, as written in `web/assets/style.css`.
const STYLE: &str = include_str!("assets/style.css");

/// The script, as written in `web/assets/app.js`.
const SCRIPT: &str = include_str!("assets/app.js");

/// One embedded file and the name it is served under.
pub struct Asset {
    /// `/assets/style.1a2b3c4d5e6f7a8b.css`.
    pub path: String,
    content: &'static str,
    content_type: &'static str,
}

fn asset(stem: &str, extension: &str, content: &'static str, content_type: &'static str) -> Asset {
    Asset {
        path: format!("/assets/{stem}.{:016x}.{extension}", stable_hash(content)),
        content,
        content_type,
    }
}

/// The stylesheet every page links.
pub static CSS: LazyLock<Asset> =
    LazyLock::new(|| asset("style", "css", STYLE, "text/css; charset=utf-8"));

/// The script every page of the dashboard loads (deferred).
pub static JS: LazyLock<Asset> =
    LazyLock::new(|| asset("app", "js", SCRIPT, "text/javascript; charset=utf-8"));

/// `GET /assets/{name}`: an embedded file by its current name; any other name is 404, so a
/// stale name is never cached as if it were the new content.
pub async fn serve(name: web::Path<String>) -> HttpResponse {
    let wanted = format!("/assets/{}", name.into_inner());
    for asset in [&*CSS, &*JS] {
        if asset.path == wanted {
            return HttpResponse::Ok()
                .content_type(asset.content_type)
                .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .body(asset.content);
        }
    }
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("no such asset\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        assert!(CSS.path.starts_with("/assets/style.") && CSS.path.ends_with(".css"));
        assert!(JS.path.starts_with("/assets/app.") && JS.path.ends_with(".js"));
        assert!(CSS.path.contains(&format!("{:016x}", stable_hash(STYLE))));
    }
}
