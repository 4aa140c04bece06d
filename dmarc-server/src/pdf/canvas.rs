//! A small drawing surface over printpdf: pages of rectangles, lines and text in millimetres
//! from the top-left corner, measured with the embedded DejaVu Sans faces.
//!
//! Text is Unicode: everything DejaVu Sans covers (Latin, Greek, Cyrillic, Armenian,
//! Georgian, Hebrew and Arabic letters, many symbols) is drawn; a character the face lacks
//! (CJK, for instance) is drawn as `?`, and control characters are dropped, so no report
//! content can break the document. Right-to-left scripts are drawn left to right without
//! shaping. Each document embeds a subset of the faces holding only the glyphs it uses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use super::PdfError;

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{CmapTarget, SubsetProfile, subset};
use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

/// A4 portrait.
pub(super) const PAGE_WIDTH: f32 = 210.0;
/// A4 portrait.
pub(super) const PAGE_HEIGHT: f32 = 297.0;
const PT_PER_MM: f32 = 72.0 / 25.4;
/// Drawn for a character the face has no glyph for.
const MISSING: char = '?';

/// A colour, `0xRRGGBB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Colour(pub(super) u32);

impl Colour {
    fn pdf(self) -> Color {
        let channel = |shift: u32| ((self.0 >> shift) & 0xff) as f32 / 255.0;
        Color::Rgb(Rgb {
            r: channel(16),
            g: channel(8),
            b: channel(0),
            icc_profile: None,
        })
    }
}

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Weight {
    Regular = 0,
    Bold = 1,
}

/// Where `x` is on the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Centre,
    Right,
}

/// How a piece of text looks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Style {
    pub(super) size: f32,
    pub(super) weight: Weight,
    pub(super) colour: Colour,
}

impl Style {
    pub(super) const fn new(size: f32, weight: Weight, colour: Colour) -> Style {
        Style {
            size,
            weight,
            colour,
        }
    }
}

#[derive(Debug)]
enum Item {
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Colour,
    },
    Line {
        points: Vec<(f32, f32)>,
        width: f32,
        colour: Colour,
    },
    Text {
        x: f32,
        y: f32,
        style: Style,
        text: String,
    },
}

struct Face {
    bytes: &'static [u8],
    parsed: ParsedFont,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Face {
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut Vec::new())
            .expect("the embedded DejaVu face parses");
        Face { bytes, parsed }
    }

    fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .lookup_glyph_index(u32::from(c))
            .filter(|gid| *gid != 0)
    }

    /// Advance of `c` in ems.
    fn advance(&self, c: char) -> f32 {
        let width = self
            .glyph(c)
            .and_then(|gid| self.parsed.get_glyph_width(gid))
            .unwrap_or(0);
        f32::from(width) / f32::from(self.parsed.units_per_em)
    }

    /// A subset holding the glyphs of `chars` (all covered by this face).
    fn subset(&self, chars: &BTreeSet<char>) -> Result<ParsedFont, PdfError> {
        let mut gids: Vec<u16> = chars.iter().filter_map(|c| self.glyph(*c)).collect();
        gids.push(0);
        gids.sort_unstable();
        gids.dedup();
        let data = ReadScope::new(self.bytes)
            .read::<FontData<'_>>()
            .map_err(|e| PdfError::Font(e.to_string()))?;
        let provider = data
            .table_provider(0)
            .map_err(|e| PdfError::Font(e.to_string()))?;
        let bytes = subset(
            &provider,
            &gids,
            &SubsetProfile::Minimal,
            CmapTarget::Unicode,
        )
        .map_err(|e| PdfError::Font(e.to_string()))?;
        ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())
            .ok_or_else(|| PdfError::Font("the subset does not parse".to_owned()))
    }
}

fn faces() -> &'static [Face; 2] {
    static FACES: OnceLock<[Face; 2]> = OnceLock::new();
    FACES.get_or_init(|| {
        [
            Face::load(include_bytes!("../../assets/fonts/DejaVuSans.ttf")),
            Face::load(include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf")),
        ]
    })
}

fn face(weight: Weight) -> &'static Face {
    &faces()[weight as usize]
}

/// What is drawn for `text`: control characters dropped (a tab or line break becomes a
/// space), characters the face lacks replaced by `?`.
fn drawable(text: &str, weight: Weight) -> String {
    let face = face(weight);
    text.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_control() => None,
            ' ' => Some(' '),
            c if face.glyph(c).is_some() => Some(c),
            _ => Some(MISSING),
        })
        .collect()
}

/// Pages of drawing operations.
#[derive(Debug)]
pub(super) struct Canvas {
    pages: Vec<Vec<Item>>,
    /// The page drawn on.
    current: usize,
}

impl Canvas {
    /// A canvas with one empty page.
    pub(super) fn new() -> Canvas {
        Canvas {
            pages: vec![Vec::new()],
            current: 0,
        }
    }

    /// Starts a new page; what follows is drawn on it.
    pub(super) fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.current = self.pages.len() - 1;
    }

    /// Draws on page `index` (from 0) from now on.
    pub(super) fn select_page(&mut self, index: usize) {
        assert!(index < self.pages.len(), "no page {index}");
        self.current = index;
    }

    /// Pages so far.
    pub(super) fn page_count(&self) -> usize {
        self.pages.len()
    }

    fn push(&mut self, item: Item) {
        self.pages[self.current].push(item);
    }

    /// A filled rectangle; `(x, y)` is its top-left corner.
    pub(super) fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Colour) {
        if w > 0.0 && h > 0.0 {
            self.push(Item::Rect { x, y, w, h, fill });
        }
    }

    /// A polyline `width` points thick.
    pub(super) fn line(&mut self, points: Vec<(f32, f32)>, width: f32, colour: Colour) {
        if points.len() >= 2 {
            self.push(Item::Line {
                points,
                width,
                colour,
            });
        }
    }

    /// Width of `text` in millimetres.
    pub(super) fn width(text: &str, style: Style) -> f32 {
        let face = face(style.weight);
        let ems: f32 = drawable(text, style.weight)
            .chars()
            .map(|c| face.advance(c))
            .sum();
        ems * style.size / PT_PER_MM
    }

    /// Draws `text` with its baseline at `y`, shortened with an ellipsis to `max_width`
    /// millimetres when given.
    pub(super) fn text(
        &mut self,
        (x, y): (f32, f32),
        align: Align,
        style: Style,
        text: &str,
        max_width: Option<f32>,
    ) {
        let mut text = drawable(text, style.weight);
        if let Some(max) = max_width {
            text = fit(&text, style, max);
        }
        if text.trim().is_empty() {
            return;
        }
        let width = Canvas::width(&text, style);
        let x = match align {
            Align::Left => x,
            Align::Centre => x - width / 2.0,
            Align::Right => x - width,
        };
        self.push(Item::Text { x, y, style, text });
    }

    /// The PDF document, dated `created` (UTC seconds).
    pub(super) fn finish(self, title: &str, created: i64) -> Result<Vec<u8>, PdfError> {
        let mut used: [BTreeSet<char>; 2] = Default::default();
        for item in self.pages.iter().flatten() {
            if let Item::Text { style, text, .. } = item {
                used[style.weight as usize].extend(text.chars());
            }
        }
        let mut doc = PdfDocument::new(&drawable(title, Weight::Regular));
        let info = &mut doc.metadata.info;
        let date = printpdf::DateTime::from_unix_timestamp(created)
            .map_err(|e| PdfError::Date(e.to_string()))?;
        info.creation_date = date;
        info.modification_date = date;
        info.metadata_date = date;
        info.creator = "dmarc".to_owned();
        info.producer = format!("dmarc {} (printpdf)", env!("CARGO_PKG_VERSION"));
        let mut fonts = BTreeMap::new();
        for weight in [Weight::Regular, Weight::Bold] {
            let chars = &used[weight as usize];
            if !chars.is_empty() {
                let subset = face(weight).subset(chars)?;
                fonts.insert(weight, doc.add_font(&subset));
            }
        }
        let pages = self
            .pages
            .into_iter()
            .map(|items| {
                let mut ops = Vec::with_capacity(items.len() * 4);
                for item in items {
                    render(&mut ops, item, &fonts);
                }
                PdfPage::new(Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), ops)
            })
            .collect();
        let mut warnings = Vec::new();
        Ok(doc
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut warnings))
    }
}

/// `text` cut to `max` millimetres, ending in `…` when cut.
fn fit(text: &str, style: Style, max: f32) -> String {
    if Canvas::width(text, style) <= max {
        return text.to_owned();
    }
    let room = max - Canvas::width("…", style);
    let mut out = String::new();
    let mut used = 0.0;
    let face = face(style.weight);
    for c in text.chars() {
        let w = face.advance(c) * style.size / PT_PER_MM;
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

fn point(x: f32, y: f32) -> Point {
    Point::new(Mm(x), Mm(PAGE_HEIGHT - y))
}

fn render(ops: &mut Vec<Op>, item: Item, fonts: &BTreeMap<Weight, printpdf::FontId>) {
    match item {
        Item::Rect { x, y, w, h, fill } => {
            ops.push(Op::SetFillColor { col: fill.pdf() });
            let corner = point(x, y + h);
            ops.push(Op::DrawRectangle {
                rectangle: Rect {
                    mode: Some(PaintMode::Fill),
                    ..Rect::from_xywh(corner.x, corner.y, Mm(w).into(), Mm(h).into())
                },
            });
        }
        Item::Line {
            points,
            width,
            colour,
        } => {
            ops.push(Op::SetOutlineColor { col: colour.pdf() });
            ops.push(Op::SetOutlineThickness { pt: Pt(width) });
            ops.push(Op::DrawLine {
                line: Line {
                    points: points
                        .into_iter()
                        .map(|(x, y)| LinePoint {
                            p: point(x, y),
                            bezier: false,
                        })
                        .collect(),
                    is_closed: false,
                },
            });
        }
        Item::Text { x, y, style, text } => {
            let Some(font) = fonts.get(&style.weight) else {
                return;
            };
            ops.extend([
                Op::StartTextSection,
                Op::SetFont {
                    font: PdfFontHandle::External(font.clone()),
                    size: Pt(style.size),
                },
                Op::SetFillColor {
                    col: style.colour.pdf(),
                },
                Op::SetTextCursor { pos: point(x, y) },
                Op::ShowText {
                    items: vec![TextItem::Text(text)],
                },
                Op::EndTextSection,
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: Style = Style::new(10.0, Weight::Regular, Colour(0));

    #[test]
    fn text_is_made_drawable() {
        assert_eq!(drawable("a\tb\u{7}c", Weight::Regular), "a bc");
        assert_eq!(drawable("Яндекс", Weight::Regular), "Яндекс");
        assert_eq!(drawable("网易 mail", Weight::Bold), "?? mail");
    }

    #[test]
    fn long_text_is_cut_to_width() {
        let long = "a-very-long-organisation-name.example.com";
        let cut = fit(long, BODY, 30.0);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(Canvas::width(&cut, BODY) <= 30.0);
        assert_eq!(fit("short", BODY, 30.0), "short");
        // 10 pt DejaVu Sans: "0" is 0.636 em wide, 2.24 mm.
        assert!((Canvas::width("00", BODY) - 4.49).abs() < 0.05);
    }

    #[test]
    fn a_document_embeds_only_the_glyphs_it_uses() {
        let mut canvas = Canvas::new();
        canvas.text((20.0, 20.0), Align::Left, BODY, "Hello, Привет", None);
        let pdf = canvas.finish("test", 1_714_528_800).expect("renders");
        assert!(pdf.starts_with(b"%PDF-"));
        // The whole face is 742 KiB; a subset of a dozen glyphs is a few KiB.
        assert!(pdf.len() < 40_000, "{} bytes", pdf.len());
        let doc = lopdf::Document::load_mem(&pdf).expect("reads back");
        let text = doc.extract_text(&[1]).expect("text");
        assert!(text.contains("Hello, Привет"), "{text:?}");
    }
}
