//! Legends drawn in their own strip beside the plots, so they never cover data.

use super::FONT;
use super::style::Style;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// What an entry's sample looks like.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Glyph {
    /// A short piece of a line in this style.
    Line(Style),
    /// A filled square, for bars.
    Patch(RGBColor),
}

/// One legend entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The text.
    pub name: String,
    /// The sample drawn before it.
    pub glyph: Glyph,
}

/// Font size of legend text.
const SIZE: u32 = 15;
/// Height of one entry in pixels.
const ROW: i32 = 22;
/// Width of the sample before the text.
const SAMPLE: i32 = 34;

/// Pixels of width the legend of `entries` needs, measured with `area`'s font engine.
pub fn width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry]) -> u32 {
    let font = TextStyle::from((FONT, SIZE).into_font());
    let text = entries
        .iter()
        .map(|e| area.estimate_text_size(&e.name, &font).map_or(0, |(w, _)| w))
        .max()
        .unwrap_or(0);
    text + SAMPLE as u32 + 30
}

/// Draws `entries` one under the other in `area`, from `top` pixels down, inside a thin frame
/// filled with `background`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    top: i32,
    background: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if entries.is_empty() {
        return Ok(());
    }
    let (width, _) = area.dim_in_pixel();
    let bottom = top + ROW * entries.len() as i32 + 8;
    let frame = [(4, top), (width as i32 - 6, bottom)];
    area.draw(&Rectangle::new(frame, background.filled()))?;
    area.draw(&Rectangle::new(frame, RGBColor(160, 160, 160).stroke_width(1)))?;
    let font = TextStyle::from((FONT, SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, entry) in entries.iter().enumerate() {
        let y = top + 4 + ROW * i as i32 + ROW / 2;
        let x = 12;
        match entry.glyph {
            Glyph::Line(style) => {
                let pieces: Vec<[(i32, i32); 2]> = if style.dashed {
                    (0..3).map(|k| [(x + 12 * k, y), (x + 12 * k + 7, y)]).collect()
                } else {
                    vec![[(x, y), (x + SAMPLE - 6, y)]]
                };
                for piece in pieces {
                    area.draw(&PathElement::new(piece, style.stroke()))?;
                }
                if let Some(marker) = style.marker {
                    marker.draw(area, (x + SAMPLE / 2 - 3, y), style.rgba(), 4)?;
                }
            }
            Glyph::Patch(colour) => {
                area.draw(&Rectangle::new([(x + 6, y - 6), (x + 20, y + 6)], colour.filled()))?;
            }
        }
        area.draw(&Text::new(entry.name.as_str(), (x + SAMPLE, y), &font))?;
    }
    Ok(())
}
