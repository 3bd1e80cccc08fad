//! How a series looks: colour, width, dashes, markers and opacity, so that curves lying on top of
//! each other stay distinguishable.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;

/// A marker shape drawn along a line every few points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// A filled circle.
    Circle,
    /// A filled upward triangle.
    Triangle,
    /// A filled square.
    Square,
    /// A diagonal cross.
    Cross,
    /// An open circle.
    Ring,
}

impl Marker {
    /// Every marker, in the order series use them.
    pub const ALL: [Marker; 5] =
        [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Cross, Marker::Ring];

    /// Draws the marker centred at `at` (in `area`'s coordinates) in `colour`, `size` pixels
    /// from its centre to its edge.
    pub fn draw<DB: DrawingBackend, CT: CoordTranslate>(
        self,
        area: &DrawingArea<DB, CT>,
        at: CT::From,
        colour: RGBAColor,
        size: i32,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (fill, line) = (colour.filled(), colour.stroke_width(2));
        let anchor = EmptyElement::at(at);
        let radius = size.unsigned_abs();
        match self {
            Marker::Circle => area.draw(&(anchor + Circle::new((0, 0), radius, fill))),
            Marker::Triangle => area.draw(&(anchor + TriangleMarker::new((0, 0), size + 1, fill))),
            Marker::Square => {
                area.draw(&(anchor + Rectangle::new([(-size, -size), (size, size)], fill)))
            }
            Marker::Cross => area.draw(&(anchor + Cross::new((0, 0), radius, line))),
            Marker::Ring => area.draw(&(anchor + Circle::new((0, 0), radius, line))),
        }
    }
}

/// The look of one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Style {
    /// Line colour.
    pub colour: RGBColor,
    /// Line width in pixels.
    pub width: u32,
    /// Draw the line dashed.
    pub dashed: bool,
    /// A marker drawn every few points, if any.
    pub marker: Option<Marker>,
    /// Opacity of the line, 0 to 1.
    pub opacity: f64,
}

impl Style {
    /// A solid, opaque, 2-pixel line in `colour`.
    pub fn solid(colour: RGBColor) -> Self {
        Self { colour, width: 2, dashed: false, marker: None, opacity: 1.0 }
    }

    /// The line's colour with its opacity.
    pub fn rgba(&self) -> RGBAColor {
        self.colour.mix(self.opacity)
    }

    /// The line's stroke.
    pub fn stroke(&self) -> ShapeStyle {
        self.rgba().stroke_width(self.width)
    }
}
