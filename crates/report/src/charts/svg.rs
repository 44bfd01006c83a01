//! A small SVG writer: every chart is a viewBox (so it scales with the page), a `<title>` and a
//! `<desc>` for screen readers, and shapes whose classes the page check reads back.

use std::fmt::Write;

/// The smallest text a chart draws, in px at 100 % zoom (the page draws charts at their
/// natural width or wider).
pub const SMALL: f64 = 11.0;
/// Axis and value labels.
pub const TEXT: f64 = 12.0;

/// Okabe & Ito's colour-blind-safe palette, in the order the charts use it.
pub mod colour {
    /// Blue: the main series.
    pub const BLUE: &str = "#0072B2";
    /// Orange: the second series.
    pub const ORANGE: &str = "#E69F00";
    /// Vermillion: failures.
    pub const VERMILLION: &str = "#D55E00";
    /// Bluish green.
    pub const GREEN: &str = "#009E73";
    /// Axis text.
    pub const INK: &str = "#3b4252";
    /// Grid lines.
    pub const GRID: &str = "#e5e7eb";
}

/// An SVG document being written.
pub struct Svg {
    out: String,
}

/// `&`, `<`, `>`, `"` and `'` as entities: labels come from the data (service names, repositories).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A guess of a text's width in px, wide enough for the sans-serif fonts browsers pick
/// (digits and lower case are narrower than this; layouts leave this much room).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

/// `text` cut to at most `width` px, with an ellipsis when cut.
pub fn fit(text: &str, size: f64, width: f64) -> String {
    if text_width(text, size) <= width {
        return text.to_string();
    }
    let keep = ((width / (size * 0.62)).floor() as usize).saturating_sub(1);
    let mut cut: String = text.chars().take(keep).collect();
    cut.push('…');
    cut
}

/// Where a text's x lies in it.
#[derive(Clone, Copy)]
pub enum Anchor {
    /// x is where the text starts.
    Start,
    /// x is its middle.
    Middle,
    /// x is where it ends.
    End,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

impl Svg {
    /// A document `width` × `height` user units, `id` unique in the page, with its `title`
    /// and `desc`.
    pub fn new(id: &str, width: f64, height: f64, title: &str, desc: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width:.0} {height:.0}\" \
             width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" \
             aria-labelledby=\"{id}-title {id}-desc\">\
             <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
            escape(title),
            escape(desc),
        );
        Svg { out }
    }

    /// A filled rectangle of `class` (`bar`, `column`, `cell`), with a tooltip.
    #[allow(clippy::too_many_arguments)]
    pub fn rect(&mut self, class: &str, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: &str) {
        let _ = write!(
            self.out,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"{fill}\">",
            w.max(0.0),
            h.max(0.0),
        );
        if !tip.is_empty() {
            let _ = write!(self.out, "<title>{}</title>", escape(tip));
        }
        self.out.push_str("</rect>");
    }

    /// A line of `colour`, `width` px wide.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), colour: &str, width: f64) {
        let _ = write!(
            self.out,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{colour}\" \
             stroke-width=\"{width}\"/>"
        );
    }

    /// A polyline through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], colour: &str) {
        let mut list = String::new();
        for (x, y) in points {
            let _ = write!(list, "{x:.1},{y:.1} ");
        }
        let _ = write!(
            self.out,
            "<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" \
             stroke-width=\"2.5\" stroke-linejoin=\"round\"/>",
            list.trim_end()
        );
    }

    /// A dot at a point, with a tooltip.
    pub fn dot(&mut self, (x, y): (f64, f64), colour: &str, tip: &str) {
        let _ = write!(
            self.out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"><title>{}</title></circle>",
            escape(tip)
        );
    }

    /// A text whose middle is at `y`.
    pub fn text(
        &mut self,
        (x, y): (f64, f64),
        anchor: Anchor,
        size: f64,
        colour: &str,
        text: &str,
    ) {
        let _ = write!(
            self.out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{}\" font-size=\"{size}\" fill=\"{colour}\">{}</text>",
            y + size * 0.35,
            anchor.name(),
            escape(text),
        );
    }

    /// An axis tick: its grid line (or mark) and its label, grouped so that a check can tell
    /// that no tick is left without a label.
    pub fn tick(&mut self, mark: ((f64, f64), (f64, f64)), label: ((f64, f64), Anchor, &str)) {
        self.out.push_str("<g class=\"tick\">");
        self.line(mark.0, mark.1, colour::GRID, 1.0);
        self.text(label.0, label.1, SMALL, colour::INK, label.2);
        self.out.push_str("</g>");
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_the_data_are_escaped() {
        let mut svg = Svg::new("c", 10.0, 10.0, "a <b> & \"c\"", "d'e");
        svg.text((0.0, 0.0), Anchor::Start, 12.0, "#000", "</svg><script>");
        let out = svg.finish();
        assert!(out.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(out.contains("d&#39;e"));
        assert!(out.contains("&lt;/svg&gt;&lt;script&gt;"));
        assert!(!out.contains("<script"));
    }

    #[test]
    fn long_labels_are_cut_to_fit_with_an_ellipsis() {
        assert_eq!(fit("web-app", 12.0, 200.0), "web-app");
        let cut = fit("a-repository-with-a-very-long-name-indeed", 12.0, 100.0);
        assert!(cut.ends_with('…'));
        assert!(text_width(&cut, 12.0) <= 100.0, "{cut}");
    }
}
