//! Figures written as PNG files. Text is drawn with DejaVu Sans, bundled in the binary.

pub mod heatmap;
pub mod lines;

use plotters::style::{FontStyle, register_font};
use std::sync::Once;

/// DejaVu Sans, registered as the `sans-serif` family.
const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font once per process; every figure calls this before drawing text.
pub fn register_fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled bytes are a valid TrueType font, so registration cannot fail.
        let _ = register_font("sans-serif", FontStyle::Normal, DEJAVU_SANS);
    });
}
