//! Pictures in the message pane: the drawing side of previews (issue 15).
//!
//! The view stays a function of the model. [`super::draw`] draws with [`NoPictures`] (every
//! picture is a plain file bubble); the runtime, which owns the decoded previews
//! (`runtime::preview::Previews`), hands its own [`Pictures`] to [`super::draw_with`].
//!
//! The message pane asks [`draw_preview`] to draw a picture into the cells it reserved for
//! it. The terminal graphics protocols (kitty, iTerm2, sixel) cannot be cut at the pane's
//! edge, so a preview partly scrolled out of view is drawn cut only where the preview is
//! made of cells (half-blocks, kitty's placeholders); any other shows a neutral box there.

use crate::proto::files::TransferId;
use ratatui::buffer::Buffer;
use ratatui::layout::{Rect, Size};
use ratatui::style::{Color, Style};

/// The previews the view may draw, by transfer.
pub trait Pictures {
    /// The size in cells of `id`'s preview, if one is ready to draw. A preview that was
    /// dropped to make room is made again by asking for it here.
    fn size(&mut self, id: &TransferId) -> Option<Size>;

    /// Draws all of `id`'s preview with its top left cell at `area`'s; `area` is at least
    /// its [`Pictures::size`]. Returns false if there is none to draw (then nothing was).
    fn draw(&mut self, id: &TransferId, area: Rect, buf: &mut Buffer) -> bool;

    /// Draws the rows of `id`'s preview from `skip` on into `area` (its visible part, at
    /// most as wide as the preview). Returns false if this preview cannot be cut so (then
    /// nothing was drawn): a graphics protocol that sends the picture whole.
    fn draw_rows(&mut self, id: &TransferId, area: Rect, skip: u16, buf: &mut Buffer) -> bool {
        let _ = (id, area, skip, buf);
        false
    }

    /// Called once the frame is complete, overlays included, before it goes to the
    /// terminal.
    fn frame_done(&mut self, buf: &Buffer) {
        let _ = buf;
    }
}

/// No previews: every picture is drawn as its file bubble.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPictures;

impl Pictures for NoPictures {
    fn size(&mut self, _: &TransferId) -> Option<Size> {
        None
    }

    fn draw(&mut self, _: &TransferId, _: Rect, _: &mut Buffer) -> bool {
        false
    }
}

/// The cells the message pane reserved for a preview. Its top row is signed, and may lie
/// above the pane's top or below its bottom: a preview scrolled partly out of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub x: u16,
    pub y: i32,
    pub width: u16,
    pub height: u16,
}

/// What the neutral box is drawn with.
const PLACEHOLDER: &str = "░";

/// Draws `id`'s preview into the cells reserved for it, `slot`, as far as they lie in
/// `view` (the message pane's inner area): whole if the whole preview is in view; cut to
/// the rows in view if the preview allows ([`Pictures::draw_rows`]); else a neutral box over
/// the part in view.
///
/// Returns false, having drawn nothing, when there is no preview ready for `id`, or when it
/// does not fit the slot (the slot was reserved for another size): the caller then draws
/// the plain file bubble. True means the slot is taken care of (drawn, or out of view).
pub fn draw_preview(
    pictures: &mut dyn Pictures,
    id: &TransferId,
    slot: Slot,
    view: Rect,
    buf: &mut Buffer,
) -> bool {
    let Some(size) = pictures.size(id) else {
        return false;
    };
    if size.width == 0 || size.height == 0 || size.width > slot.width || size.height > slot.height {
        return false;
    }
    // The preview's cells, in signed screen rows.
    let left = i64::from(slot.x);
    let top = i64::from(slot.y);
    let right = left + i64::from(size.width);
    let bottom = top + i64::from(size.height);
    let (view_left, view_top) = (i64::from(view.x), i64::from(view.y));
    let (view_right, view_bottom) = (i64::from(view.right()), i64::from(view.bottom()));
    // In view: the part of the preview inside the pane.
    let (x0, x1) = (left.max(view_left), right.min(view_right));
    let (y0, y1) = (top.max(view_top), bottom.min(view_bottom));
    if x0 >= x1 || y0 >= y1 {
        return true;
    }
    let cells = |a: i64| u16::try_from(a).unwrap_or(u16::MAX);
    let seen = Rect::new(cells(x0), cells(y0), cells(x1 - x0), cells(y1 - y0));
    if (x0, x1, y0, y1) == (left, right, top, bottom) {
        return pictures.draw(id, seen, buf) || {
            placeholder(seen, buf);
            true
        };
    }
    // Cut: only rows can be left out; a preview cut at the side is a box.
    if x0 == left && x1 == right && pictures.draw_rows(id, seen, cells(y0 - top), buf) {
        return true;
    }
    placeholder(seen, buf);
    true
}

/// A neutral box: the place of a picture that cannot be drawn here.
pub fn placeholder(area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let style = Style::default().fg(Color::DarkGray).bg(Color::Reset);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.reset();
                cell.set_symbol(PLACEHOLDER).set_style(style);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A 3x2 preview made of cells, cut or not, that writes a letter per row ("a", "b").
    struct Letters {
        cut: bool,
        drawn: Vec<(Rect, u16)>,
    }

    impl Pictures for Letters {
        fn size(&mut self, id: &TransferId) -> Option<Size> {
            (id.0[0] == 1).then_some(Size::new(3, 2))
        }
        fn draw(&mut self, id: &TransferId, area: Rect, buf: &mut Buffer) -> bool {
            self.draw_rows(id, area, 0, buf) || {
                self.drawn.push((area, 0));
                fill(area, 0, buf);
                true
            }
        }
        fn draw_rows(&mut self, _: &TransferId, area: Rect, skip: u16, buf: &mut Buffer) -> bool {
            if !self.cut {
                return false;
            }
            self.drawn.push((area, skip));
            fill(area, skip, buf);
            true
        }
    }

    fn fill(area: Rect, skip: u16, buf: &mut Buffer) {
        for y in area.top()..area.bottom() {
            let row = ["a", "b"][usize::from(y - area.y + skip)];
            for x in area.left()..area.right() {
                buf[(x, y)].set_symbol(row);
            }
        }
    }

    fn rows(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
            .collect()
    }

    const PICTURE: TransferId = TransferId([1; 16]);
    const VIEW: Rect = Rect::new(0, 1, 5, 3);

    fn draw(cut: bool, y: i32, id: &TransferId) -> (bool, Vec<String>, Vec<(Rect, u16)>) {
        let mut buf = Buffer::empty(Rect::new(0, 0, 5, 5));
        let mut p = Letters {
            cut,
            drawn: Vec::new(),
        };
        let slot = Slot {
            x: 1,
            y,
            width: 4,
            height: 2,
        };
        let drawn = draw_preview(&mut p, id, slot, VIEW, &mut buf);
        (drawn, rows(&buf), p.drawn)
    }

    #[test]
    fn a_preview_wholly_in_view_is_drawn_whole() {
        for cut in [false, true] {
            let (drawn, rows, calls) = draw(cut, 2, &PICTURE);
            assert!(drawn);
            assert_eq!(rows, ["     ", "     ", " aaa ", " bbb ", "     "]);
            assert_eq!(calls, [(Rect::new(1, 2, 3, 2), 0)]);
        }
    }

    #[test]
    fn a_preview_cut_by_the_top_is_cut_if_it_can_be_and_else_a_box() {
        // Its first row is above the view (row 0; the view starts at row 1).
        let (drawn, rows, calls) = draw(true, 0, &PICTURE);
        assert!(drawn);
        assert_eq!(rows, ["     ", " bbb ", "     ", "     ", "     "]);
        assert_eq!(calls, [(Rect::new(1, 1, 3, 1), 1)]);
        let (drawn, rows, calls) = draw(false, 0, &PICTURE);
        assert!(drawn);
        assert_eq!(rows, ["     ", " ░░░ ", "     ", "     ", "     "]);
        assert!(calls.is_empty());
        // Far above: nothing to draw, and nothing for the caller to do either.
        let (drawn, rows, calls) = draw(true, -7, &PICTURE);
        assert!(drawn && calls.is_empty());
        assert!(rows.iter().all(|r| r.trim().is_empty()));
    }

    #[test]
    fn a_preview_cut_by_the_bottom_shows_its_top_rows() {
        let (drawn, rows, calls) = draw(true, 3, &PICTURE);
        assert!(drawn);
        assert_eq!(rows, ["     ", "     ", "     ", " aaa ", "     "]);
        assert_eq!(calls, [(Rect::new(1, 3, 3, 1), 0)]);
    }

    #[test]
    fn no_preview_or_one_larger_than_its_slot_leaves_the_bubble_to_the_caller() {
        let (drawn, rows, calls) = draw(true, 2, &TransferId([2; 16]));
        assert!(!drawn && calls.is_empty());
        assert!(rows.iter().all(|r| r.trim().is_empty()));
        let mut buf = Buffer::empty(Rect::new(0, 0, 5, 5));
        let mut p = Letters {
            cut: true,
            drawn: Vec::new(),
        };
        let small = Slot {
            x: 0,
            y: 1,
            width: 2,
            height: 2,
        };
        assert!(!draw_preview(&mut p, &PICTURE, small, VIEW, &mut buf));
        assert!(p.drawn.is_empty());
        assert!(!draw_preview(
            &mut NoPictures,
            &PICTURE,
            small,
            VIEW,
            &mut buf
        ));
    }
}
