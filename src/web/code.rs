//! Code as HTML: one element per line, each with its number as a link
//! (`#L12`), the text escaped by maud; and a revision's line diff.
//! Highlighting is the browser's (assets/app.js with highlight.js): the
//! server writes the language's name and plain text only.

use maud::{html, Markup};
use std::time::Duration;

use similar::{ChangeTag, TextDiff};

/// The name highlight.js knows a language by, where ours differs from
/// its own names and aliases; anything it does not know stays plain.
pub fn highlight_name(language: &str) -> String {
    let l = language.trim().to_ascii_lowercase();
    match l.as_str() {
        "shell" | "sh" | "zsh" => "bash".into(),
        "html" | "svg" => "xml".into(),
        "toml" => "ini".into(),
        "golang" => "go".into(),
        _ => l,
    }
}

/// The lines of `code`; at least one, so an empty snippet has a row.
fn lines(code: &str) -> Vec<&str> {
    let mut v: Vec<&str> = code.lines().collect();
    if v.is_empty() {
        v.push("");
    }
    v
}

/// The code with its line numbers. The `pre` takes focus so that the
/// keyboard can scroll it (it scrolls sideways, the page never does).
pub fn block(code: &str, language: &str) -> Markup {
    html! {
        pre.code tabindex="0" aria-label="Code" {
            code data-lang=(highlight_name(language)) data-eol=(u8::from(code.ends_with('\n'))) {
                @for (i, line) in lines(code).into_iter().enumerate() {
                    span.line id={ "L" (i + 1) } {
                        a.n href={ "#L" (i + 1) } { (i + 1) }
                        span.c { (line) }
                    }
                }
            }
        }
    }
}

/// Time Myers' algorithm may take before it settles for a coarser (still
/// correct) diff: two 50,000-line versions with nothing in common would
/// otherwise cost O(N·D) ≈ 10¹⁰ steps on every view.
const DIFF_TIMEOUT: Duration = Duration::from_millis(100);
/// Rows of the diff written at most (the counts are always whole): a
/// page stays a page, the raw views have the rest.
const DIFF_ROWS: usize = 2_000;

/// What changed from `old` to `new`, line by line, with three lines of
/// context around each change; and the counts of lines added, removed.
pub fn diff(old: &str, new: &str) -> (Markup, usize, usize) {
    let d = TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for c in d.iter_all_changes() {
        match c.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    let groups = d.grouped_ops(3);
    let mut rows = 0usize;
    let mut shown = |_: &similar::Change<&str>| {
        rows += 1;
        rows <= DIFF_ROWS
    };
    let markup = html! {
        @if groups.is_empty() {
            p { "The code did not change." }
        } @else {
            pre.code.diff tabindex="0" aria-label="Changes to the code" {
                code {
                    @for (g, group) in groups.iter().enumerate() {
                        @if g > 0 {
                            span.line.gap { span.n { "⋯" } span.n { "⋯" } span.c { "" } }
                        }
                        @for op in group {
                            @for c in d.iter_changes(op).filter(|c| shown(c)) {
                                @let (class, sign, label) = match c.tag() {
                                    ChangeTag::Insert => ("line add", "+", "added: "),
                                    ChangeTag::Delete => ("line del", "-", "removed: "),
                                    ChangeTag::Equal => ("line", " ", ""),
                                };
                                span class=(class) {
                                    span.n { (c.old_index().map_or(String::new(), |i| (i + 1).to_string())) }
                                    span.n { (c.new_index().map_or(String::new(), |i| (i + 1).to_string())) }
                                    span.c {
                                        span.sr { (label) }
                                        span.sign aria-hidden="true" { (sign) }
                                        (c.value().trim_end_matches(['\n', '\r']))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if rows > DIFF_ROWS {
                p.note { "The first " (DIFF_ROWS) " lines of the changes are shown; the raw views have both versions whole." }
            }
        }
    };
    (markup, added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_escaped() {
        let html = block("a\n</pre><script>x</script>\n", "Rust").into_string();
        assert!(html.contains(r##"<span class="line" id="L2"><a class="n" href="#L2">2</a>"##));
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains(r#"data-lang="rust""#));
        assert!(!html.contains("id=\"L3\""));
        assert!(block("", "x").into_string().contains("id=\"L1\""));
    }

    /// Two versions with nothing in common, as large as a snippet may be:
    /// bounded time and rows, whole counts.
    #[test]
    fn huge_diffs_are_bounded() {
        let old: String = (0..25_000).map(|i| format!("a{i}\n")).collect();
        let new: String = (0..25_000).map(|i| format!("b{i}\n")).collect();
        let t = std::time::Instant::now();
        let (html, added, removed) = diff(&old, &new);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            t.elapsed()
        );
        assert_eq!((added, removed), (25_000, 25_000));
        let html = html.into_string();
        assert_eq!(html.matches("<span class=\"line ").count(), DIFF_ROWS);
        assert!(html.contains("The first 2000 lines"));
    }

    #[test]
    fn language_names_for_highlight_js() {
        assert_eq!(highlight_name(" Rust "), "rust");
        assert_eq!(highlight_name("Shell"), "bash");
        assert_eq!(highlight_name("HTML"), "xml");
        assert_eq!(highlight_name("toml"), "ini");
        assert_eq!(highlight_name("C++"), "c++");
        assert_eq!(highlight_name("no such"), "no such");
    }

    #[test]
    fn diff_counts_and_marks() {
        let (html, added, removed) = diff("a\nb\nc\n", "a\nB\nc\nd\n");
        let html = html.into_string();
        assert_eq!((added, removed), (2, 1));
        assert!(html.contains("line add") && html.contains("line del"));
        let (same, 0, 0) = diff("x\n", "x\n") else {
            panic!("no change")
        };
        assert!(same.into_string().contains("did not change"));
    }
}
