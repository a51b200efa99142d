//! Hostile values on every page: markup, attribute breakers, `javascript:`
//! URLs, RTL overrides and zero-width characters are text, never markup.

use super::*;

const SCRIPT: &str = "</pre><script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const JS_URL: &str = "javascript:alert(document.cookie)";
/// RIGHT-TO-LEFT OVERRIDE and ZERO WIDTH SPACE.
const BIDI: &str = "admin\u{202E}txt.exe\u{200B}";

/// A page's HTML must hold no element or attribute the values could
/// have made, and must hold the values as escaped text.
fn assert_inert(html: &str, path: &str) {
    for bad in [
        "<script>alert",
        "<img",
        "onerror=alert(1)>",
        "href=\"javascript:",
        "src=\"javascript:",
        "</pre><script",
    ] {
        assert!(!html.contains(bad), "{path}: {bad} in {html}");
    }
    // Only the page's own two scripts, both from /static/.
    assert_eq!(html.matches("<script").count(), 2, "{path}");
    assert_eq!(html.matches("<script src=\"/static/").count(), 2, "{path}");
}

#[test]
fn hostile_values_are_text_on_every_page() {
    let app = InProcApp::new();
    let c = app.client();
    let title = format!("{SCRIPT}{IMG}{BIDI}");
    let description = format!("{JS_URL}\n{SCRIPT}\n{IMG}\n{BIDI}");
    let code = format!("{SCRIPT}\n{IMG}\n<a href=\"{JS_URL}\">x</a>\n{BIDI}\n");
    let id = create(
        &c,
        json!({
            "title": title,
            "description": description,
            "language": SCRIPT,
            "code": code,
            "tags": ["xss", "javascript"],
        }),
    );
    // A second version so the diff page has hostile lines on both sides.
    let w = c.json(
        "PATCH",
        &format!("/snippets/{id}"),
        &json!({"code": format!("{IMG}\n{SCRIPT}\n"), "language": IMG}),
    );
    assert_eq!(w.status, 200, "{}", w.text());
    for path in [
        format!("/s/{id}"),
        format!("/s/{id}/revisions"),
        format!("/s/{id}/revisions/1"),
        format!("/s/{id}/revisions/2"),
        "/s".to_string(),
        "/s?tag=xss".to_string(),
    ] {
        let r = app.anon().get(&path);
        assert_eq!(r.status, 200, "{path}");
        let html = r.text();
        assert_inert(&html, &path);
        assert!(
            html.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        assert!(
            html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
            "{path}"
        );
        // Bidi and zero-width characters are kept as text (shown, not
        // obeyed by markup), never dropped into a URL.
        assert!(html.contains(BIDI), "{path}");
    }
    // Tags are checked by the schema: a hostile tag never gets stored.
    let refused = c.json(
        "POST",
        "/snippets",
        &json!({"title": "t", "language": "l", "code": "c", "tags": [IMG]}),
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    // The search form echoes what was typed, as an attribute value.
    let r = app
        .anon()
        .get("/s?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E");
    assert_eq!(r.status, 200);
    assert_inert(&r.text(), "/s?q=");
    assert!(r
        .text()
        .contains(r#"value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;""#));
}
