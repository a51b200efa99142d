//! The frame every page shares: head (policy-clean: files of this origin
//! only), the site's header and footer, and the 404 page.

use maud::{html, Markup, DOCTYPE};
use time::OffsetDateTime;

use super::assets;
use crate::util::timestamp::iso_millis;

/// Open Graph and Twitter card tags, for public snippets only.
pub struct Card<'a> {
    pub title: &'a str,
    pub language: &'a str,
    /// The description's first line, or the code's.
    pub summary: String,
}

pub struct Head<'a> {
    pub title: &'a str,
    pub noindex: bool,
    pub card: Option<Card<'a>>,
}

/// At most `max` characters of `s`'s first non-blank line.
pub fn first_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max {
        out.push('…');
    }
    out
}

pub fn page(head: &Head, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (head.title) " · snippetd" }
                @if head.noindex {
                    meta name="robots" content="noindex";
                }
                @if let Some(c) = &head.card {
                    meta property="og:type" content="article";
                    meta property="og:site_name" content="snippetd";
                    meta property="og:title" content=(c.title);
                    meta property="og:description" content={ "[" (c.language) "] " (c.summary) };
                    meta name="twitter:card" content="summary";
                    meta name="twitter:title" content=(c.title);
                    meta name="twitter:description" content={ "[" (c.language) "] " (c.summary) };
                    meta name="description" content=(c.summary);
                }
                link rel="icon" type="image/svg+xml" href=(assets::ICON.href());
                link rel="stylesheet" href=(assets::CSS.href());
                script src=(assets::HLJS.href()) defer {}
                script src=(assets::JS.href()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    nav aria-label="Site" {
                        a.brand href="/s" { "snippetd" }
                        a href="/s" { "Browse" }
                        a href="/docs" { "API" }
                    }
                }
                main #main { (main) }
                footer.site {
                    p {
                        "Highlighting by "
                        a href=(assets::HLJS_LICENSE.href()) { "highlight.js" }
                        " (BSD-3-Clause)."
                    }
                }
            }
        }
    }
}

/// A time as people read it, with the machine form in `datetime`.
pub fn when(t: OffsetDateTime) -> Markup {
    let iso = iso_millis(t);
    let shown = format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    );
    html! { time datetime=(iso) { (shown) } }
}

pub fn not_found() -> Markup {
    let head = Head {
        title: "Not found",
        noindex: true,
        card: None,
    };
    page(
        &head,
        html! {
            h1 { "Not found" }
            p { "There is no snippet here, or it is not yours to see." }
            p { a href="/s" { "Browse the public snippets" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines() {
        assert_eq!(first_line("\n  \n  hello\nworld", 10), "hello");
        assert_eq!(first_line("abcdef", 3), "abc…");
        assert_eq!(first_line("", 3), "");
    }
}
