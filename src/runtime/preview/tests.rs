//! Previews: the decoder's bounds, attacked; the cell sizes; half-blocks in a buffer; the
//! cache's bounds; the choice of graphics; random bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::ui::picture::{Slot, draw_preview};
use image::{Rgba, RgbaImage};
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

/// A picture of `w`×`h` pixels, each coloured by `f(x, y)`, as `format`.
fn picture(w: u32, h: u32, format: ImageFormat, f: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
    let image = RgbaImage::from_fn(w, h, |x, y| Rgba(f(x, y)));
    let image = match format {
        // JPEG has no alpha.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(image).to_rgb8()),
        _ => DynamicImage::ImageRgba8(image),
    };
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    picture(w, h, ImageFormat::Png, |x, y| {
        [(x * 7) as u8, (y * 13) as u8, 200, 255]
    })
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A decompression bomb's opening: a well-formed PNG whose header claims `w`×`h` RGBA
/// pixels, followed by a few bytes of a zlib stream (all a bomb needs to send before the
/// decoder allocates what the header claims).
fn bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    // 8 bits, RGBA, deflate, adaptive filters, not interlaced.
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // A zlib header and the start of a stored block of zeros.
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0, 0, 0, 0],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn the_bombs_crc_is_right_so_only_the_size_is_wrong() {
    // The check-value of the CRC-32 in PNG's specification.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    // A small picture made the same way decodes as far as its truncated data.
    assert_eq!(decode(&bomb(16, 16)).map(|_| ()), Err(Refusal::Damaged));
}

#[test]
fn a_decompression_bomb_is_refused_by_its_header() {
    // 100000×100000 RGBA is 40 GB decoded: refused for its header's claim, which the
    // refusal carries (no decoder got as far as the pixels).
    for (w, h) in [(100_000, 100_000), (MAX_SIDE + 1, 1), (1, MAX_SIDE + 1)] {
        assert_eq!(
            decode(&bomb(w, h)).map(|_| ()),
            Err(Refusal::TooLarge(Some((w, h)))),
            "{w}x{h}"
        );
    }
    // Within the sides, over the memory: 8000×8000 RGBA is 256 MB.
    assert_eq!(
        decode(&bomb(8000, 8000)).map(|_| ()),
        Err(Refusal::TooLarge(Some((8000, 8000))))
    );
    // The reason as the user reads it.
    assert_eq!(
        Refusal::TooLarge(Some((100_000, 100_000))).text(Lang::En),
        "too large to preview (100000×100000 pixels)"
    );
}

#[test]
fn damaged_pictures_are_refused_not_panicked_on() {
    let png = png(40, 30);
    let jpeg = picture(40, 30, ImageFormat::Jpeg, |x, y| {
        [(x * 5) as u8, (y * 3) as u8, 90, 255]
    });
    assert!(decode(&png).is_ok());
    assert!(decode(&jpeg).is_ok());
    // A PNG cut anywhere after its magic bytes.
    for cut in [12, 33, png.len() / 2, png.len() - 13] {
        assert_eq!(
            decode(&png[..cut]).map(|_| ()),
            Err(Refusal::Damaged),
            "cut at {cut}"
        );
    }
    // A flipped byte in the PNG's pixel data: its CRC no longer matches.
    let mut flipped = png.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 0x55;
    assert_eq!(decode(&flipped).map(|_| ()), Err(Refusal::Damaged));
    // A JPEG cut in its headers (before the start of the scan, FF DA); cut in the scan,
    // the decoder may show what it has (phones' cut photos do), or refuse.
    let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    for cut in [3, 20, scan / 2, scan] {
        assert_eq!(
            decode(&jpeg[..cut]).map(|_| ()),
            Err(Refusal::Damaged),
            "cut at {cut}"
        );
    }
    for cut in [scan + 4, (scan + jpeg.len()) / 2, jpeg.len() - 2] {
        let cut = decode(&jpeg[..cut]).map(|i| (i.width(), i.height()));
        assert!(
            matches!(cut, Ok((40, 30)) | Err(Refusal::Damaged)),
            "{cut:?}"
        );
    }
    // A JPEG whose frame header claims no lines.
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let mut flat = jpeg.clone();
    flat[sof + 5] = 0;
    flat[sof + 6] = 0;
    assert!(matches!(
        decode(&flat).map(|_| ()),
        Err(Refusal::Damaged | Refusal::Unsupported)
    ));
}

#[test]
fn what_is_not_a_picture_or_not_an_allowed_one_is_unsupported() {
    assert_eq!(
        decode(b"#!/bin/sh\nrm -rf ~\n").map(|_| ()),
        Err(Refusal::Unsupported)
    );
    assert_eq!(decode(b"").map(|_| ()), Err(Refusal::Unsupported));
    // A TIFF header: a picture, but not one of ours.
    assert_eq!(
        decode(b"II*\x00\x08\x00\x00\x00").map(|_| ()),
        Err(Refusal::Unsupported)
    );
}

#[test]
fn each_allowed_format_decodes() {
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
        ImageFormat::Bmp,
    ] {
        let bytes = picture(9, 5, format, |_, _| [10, 20, 30, 255]);
        let image = decode(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e:?}"));
        assert_eq!((image.width(), image.height()), (9, 5), "{format:?}");
    }
}

#[test]
fn a_picture_fits_its_cells_keeping_its_aspect_and_never_grows() {
    let half = CellPx::HALF_BLOCK;
    // 100×50 into 20×10 half-block cells (20×20 pixels): as wide as the box, half as high.
    assert_eq!(
        fit(100, 50, 20, 10, half),
        Fit {
            px_width: 20,
            px_height: 10,
            cols: 20,
            rows: 5
        }
    );
    // Tall: as high as the box.
    assert_eq!(
        fit(50, 400, 20, 10, half),
        Fit {
            px_width: 3,
            px_height: 20,
            cols: 3,
            rows: 10
        }
    );
    // Small: as it is.
    assert_eq!(
        fit(2, 2, 20, 10, half),
        Fit {
            px_width: 2,
            px_height: 2,
            cols: 2,
            rows: 1
        }
    );
    // Graphics with 10×20-pixel cells: 100×50 pixels take 10×3 cells in a 20×10 box.
    let cell = CellPx {
        width: 10,
        height: 20,
    };
    assert_eq!(fit(100, 50, 20, 10, cell).cols, 10);
    assert_eq!(fit(100, 50, 20, 10, cell).rows, 3);
    // Huge and thin: never past the box, never zero.
    let thin = fit(16_000, 1, 40, 12, cell);
    assert_eq!((thin.cols, thin.rows, thin.px_height), (40, 1, 1));
    let zero = fit(5, 5, 0, 0, cell);
    assert_eq!((zero.cols, zero.rows), (1, 1));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn id(n: u8) -> TransferId {
    TransferId([n; 16])
}

/// The next report, or a failure of the test if none comes (decodes are on real threads).
async fn next(previews: &mut Previews) -> PreviewEvent {
    tokio::time::timeout(Duration::from_secs(60), previews.next())
        .await
        .expect("a report")
}

#[tokio::test]
async fn requests_come_back_ready_with_their_cells_or_failed_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let wide = write(dir.path(), "wide.png", &png(100, 50));
    let not = write(dir.path(), "not-a-picture.png", b"<html>hello</html>");
    let cut = write(dir.path(), "cut.jpg", &{
        let jpeg = picture(64, 64, ImageFormat::Jpeg, |x, _| [x as u8, 0, 0, 255]);
        jpeg[..jpeg.len() / 3].to_vec()
    });
    let bomb = write(dir.path(), "bomb.png", &bomb(100_000, 100_000));
    let missing = dir.path().join("gone.png");
    let mut previews = Previews::new(Graphics::Halfblocks, Lang::En);
    previews.request(id(1), wide.clone(), 20, 10);
    assert_eq!(
        next(&mut previews).await,
        PreviewEvent::Ready {
            id: id(1),
            cols: 20,
            rows: 5
        }
    );
    assert!(previews.is_ready(&id(1)));
    for (n, path, reason) in [
        (
            2,
            not,
            "not a picture lanchat previews (PNG, JPEG, GIF, WebP, BMP)",
        ),
        (3, cut, "the picture is damaged or incomplete"),
        (4, bomb, "too large to preview (100000×100000 pixels)"),
    ] {
        previews.request(id(n), path, 20, 10);
        assert_eq!(
            next(&mut previews).await,
            PreviewEvent::Failed {
                id: id(n),
                reason: reason.into()
            }
        );
    }
    previews.request(id(5), missing, 20, 10);
    let PreviewEvent::Failed { id: failed, reason } = next(&mut previews).await else {
        panic!("a missing file has no preview");
    };
    assert_eq!(failed, id(5));
    assert!(reason.starts_with("cannot read the picture: "), "{reason}");
    // Asked again with the same bounds: answered at once, as before; with others, made again.
    previews.request(id(1), wide.clone(), 20, 10);
    assert_eq!(
        next(&mut previews).await,
        PreviewEvent::Ready {
            id: id(1),
            cols: 20,
            rows: 5
        }
    );
    previews.request(id(1), wide, 8, 8);
    assert_eq!(
        next(&mut previews).await,
        PreviewEvent::Ready {
            id: id(1),
            cols: 8,
            rows: 2
        }
    );
    // In Chinese.
    let mut zh = Previews::new(Graphics::Halfblocks, Lang::Zh);
    zh.request(id(9), dir.path().join("bomb.png"), 20, 10);
    assert_eq!(
        next(&mut zh).await,
        PreviewEvent::Failed {
            id: id(9),
            reason: "图片过大，无法预览（100000×100000 像素）".into()
        }
    );
}

#[tokio::test]
async fn graphics_previews_take_the_cells_their_pixels_need() {
    let dir = tempfile::tempdir().unwrap();
    let wide = write(dir.path(), "wide.png", &png(100, 50));
    let cell = CellPx {
        width: 10,
        height: 20,
    };
    for graphics in [
        Graphics::Kitty(cell),
        Graphics::Sixel(cell),
        Graphics::Iterm2(cell),
    ] {
        let mut previews = Previews::new(graphics, Lang::En);
        previews.request(id(1), wide.clone(), 20, 10);
        assert_eq!(
            next(&mut previews).await,
            PreviewEvent::Ready {
                id: id(1),
                cols: 10,
                rows: 3
            },
            "{graphics:?}"
        );
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 5));
        assert!(previews.draw(&id(1), Rect::new(2, 1, 10, 3), &mut buf));
        // The picture goes out in the first cell, as an escape sequence.
        let first = buf[(2, 1)].symbol();
        assert!(first.starts_with('\x1b'), "{graphics:?}: {first:?}");
    }
}

#[tokio::test]
async fn a_file_over_the_size_cap_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.png");
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: no disk taken.
    file.set_len(MAX_FILE_BYTES + 1).unwrap();
    let mut previews = Previews::new(Graphics::Halfblocks, Lang::En);
    previews.request(id(1), path, 20, 10);
    assert_eq!(
        next(&mut previews).await,
        PreviewEvent::Failed {
            id: id(1),
            reason: "larger than 32 MiB: not previewed".into()
        }
    );
}

#[tokio::test]
async fn off_makes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wide = write(dir.path(), "wide.png", &png(10, 10));
    let mut previews = Previews::off(Lang::En);
    assert!(!previews.enabled());
    previews.request(id(1), wide, 20, 10);
    let nothing = tokio::time::timeout(Duration::from_millis(200), previews.next()).await;
    assert!(nothing.is_err(), "{nothing:?}");
    assert!(!previews.is_ready(&id(1)));
}

#[tokio::test]
async fn a_two_by_two_picture_in_half_blocks_has_its_colours_in_its_cells() {
    const RED: [u8; 4] = [255, 0, 0, 255];
    const GREEN: [u8; 4] = [0, 255, 0, 255];
    const BLUE: [u8; 4] = [0, 0, 255, 255];
    const WHITE: [u8; 4] = [255, 255, 255, 255];
    let dir = tempfile::tempdir().unwrap();
    // Red green / blue white.
    let path = write(
        dir.path(),
        "tiny.png",
        &picture(2, 2, ImageFormat::Png, |x, y| match (x, y) {
            (0, 0) => RED,
            (1, 0) => GREEN,
            (0, 1) => BLUE,
            _ => WHITE,
        }),
    );
    let mut previews = Previews::new(Graphics::Halfblocks, Lang::En);
    previews.request(id(1), path, 20, 10);
    assert_eq!(
        next(&mut previews).await,
        PreviewEvent::Ready {
            id: id(1),
            cols: 2,
            rows: 1
        }
    );
    let mut term = Terminal::new(TestBackend::new(6, 3)).unwrap();
    term.draw(|f| {
        let slot = Slot {
            x: 1,
            y: 1,
            width: 4,
            height: 1,
        };
        assert!(draw_preview(
            &mut previews,
            &id(1),
            slot,
            f.area(),
            f.buffer_mut()
        ));
    })
    .unwrap();
    let buf = term.backend().buffer();
    // Left: red over blue; the upper half-block in red on blue.
    let left = &buf[(1, 1)];
    assert_eq!(
        (left.symbol(), left.fg, left.bg),
        ("▀", Color::Rgb(255, 0, 0), Color::Rgb(0, 0, 255))
    );
    // Right: green over white; the brighter one is drawn as the lower half-block in front.
    let right = &buf[(2, 1)];
    assert_eq!(
        (right.symbol(), right.fg, right.bg),
        ("▄", Color::Rgb(255, 255, 255), Color::Rgb(0, 255, 0))
    );
    // Nothing else was touched.
    for (x, y) in [(0, 1), (3, 1), (1, 0), (1, 2)] {
        assert_eq!(buf[(x, y)].symbol(), " ", "({x}, {y})");
        assert_eq!(buf[(x, y)].bg, Color::Reset, "({x}, {y})");
    }
}

#[tokio::test]
async fn a_half_block_preview_scrolled_partly_out_of_view_shows_the_rows_in_view() {
    let dir = tempfile::tempdir().unwrap();
    // Two pixels wide, four high: red above, blue below; two rows of half-blocks.
    let path = write(
        dir.path(),
        "stripes.png",
        &picture(2, 4, ImageFormat::Png, |_, y| {
            if y < 2 {
                [255, 0, 0, 255]
            } else {
                [0, 0, 255, 255]
            }
        }),
    );
    let mut previews = Previews::new(Graphics::Halfblocks, Lang::En);
    previews.request(id(1), path, 20, 10);
    assert_eq!(
        next(&mut previews).await,
        PreviewEvent::Ready {
            id: id(1),
            cols: 2,
            rows: 2
        }
    );
    let view = Rect::new(0, 1, 4, 3);
    let mut bg = |y: i32| {
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 5));
        let slot = Slot {
            x: 1,
            y,
            width: 2,
            height: 2,
        };
        assert!(draw_preview(&mut previews, &id(1), slot, view, &mut buf));
        (0..5).map(|row| buf[(1, row)].bg).collect::<Vec<_>>()
    };
    let (red, blue) = (Color::Rgb(255, 0, 0), Color::Rgb(0, 0, 255));
    // Whole, from the view's top row.
    assert_eq!(bg(1), [Color::Reset, red, blue, Color::Reset, Color::Reset]);
    // Its top row above the view: only the blue row, at the top of the view.
    assert_eq!(
        bg(0),
        [Color::Reset, blue, Color::Reset, Color::Reset, Color::Reset]
    );
    // Its bottom row below the view: only the red row, at the bottom of the view.
    assert_eq!(
        bg(3),
        [Color::Reset, Color::Reset, Color::Reset, red, Color::Reset]
    );
}

#[tokio::test]
async fn at_most_so_many_previews_are_kept_the_least_recently_drawn_dropped_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.png", &png(8, 8));
    let mut previews = Previews::new(Graphics::Halfblocks, Lang::En).with_room(3, usize::MAX);
    let mut buf = Buffer::empty(Rect::new(0, 0, 10, 10));
    let area = Rect::new(0, 0, 10, 10);
    for n in 1..=3 {
        previews.request(id(n), path.clone(), 8, 8);
        assert!(matches!(
            next(&mut previews).await,
            PreviewEvent::Ready { .. }
        ));
    }
    // Drawn: 2, then 1; 3 is the least recently used.
    assert!(previews.draw(&id(2), area, &mut buf));
    assert!(previews.draw(&id(1), area, &mut buf));
    previews.request(id(4), path.clone(), 8, 8);
    assert!(matches!(
        next(&mut previews).await,
        PreviewEvent::Ready { .. }
    ));
    let ready: Vec<u8> = (1..=4).filter(|&n| previews.is_ready(&id(n))).collect();
    assert_eq!(ready, [1, 2, 4]);
    assert_eq!(previews.ready, 3);
    // 3 was dropped, not forgotten: wanted again (the view asks its size), it is made again.
    assert!(!previews.draw(&id(3), area, &mut buf));
    assert_eq!(previews.size(&id(3)), None);
    assert_eq!(
        next(&mut previews).await,
        PreviewEvent::Ready {
            id: id(3),
            cols: 8,
            rows: 4
        }
    );
    assert!(previews.is_ready(&id(3)));
    assert_eq!(previews.ready, 3);
    // Forgotten: gone, and not made again.
    previews.forget(&id(3));
    assert!(!previews.is_ready(&id(3)));
    assert_eq!(previews.size(&id(3)), None);
    assert_eq!(previews.ready, 2);
}

#[tokio::test]
async fn the_byte_budget_bounds_the_previews_kept_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.png", &png(8, 8));
    // One half-block preview of 8×4 cells fits, two do not.
    let one = 8 * 4 * size_of::<HalfBlock>();
    let mut previews = Previews::new(Graphics::Halfblocks, Lang::En).with_room(32, one + one / 2);
    for n in 1..=3 {
        previews.request(id(n), path.clone(), 8, 8);
        assert!(matches!(
            next(&mut previews).await,
            PreviewEvent::Ready { .. }
        ));
        assert!(previews.ready_bytes <= one + one / 2);
    }
    let ready: Vec<u8> = (1..=3).filter(|&n| previews.is_ready(&id(n))).collect();
    assert_eq!(ready, [3]);
}

#[tokio::test]
async fn a_kitty_picture_hidden_under_an_overlay_in_its_first_frame_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.png", &png(30, 30));
    let cell = CellPx {
        width: 10,
        height: 20,
    };
    let mut previews = Previews::new(Graphics::Kitty(cell), Lang::En);
    previews.request(id(1), path, 10, 10);
    assert!(matches!(
        next(&mut previews).await,
        PreviewEvent::Ready { .. }
    ));
    let area = Rect::new(0, 0, 10, 5);
    // First frame: drawn, then covered by something else.
    let mut buf = Buffer::empty(area);
    assert!(previews.draw(&id(1), area, &mut buf));
    buf[(0, 0)].set_symbol("x");
    previews.frame_done(&buf);
    assert!(!previews.is_ready(&id(1)), "dropped, to be sent again");
    assert_eq!(previews.size(&id(1)), None);
    assert!(matches!(
        next(&mut previews).await,
        PreviewEvent::Ready { .. }
    ));
    // This time it reaches the frame: kept.
    let mut buf = Buffer::empty(area);
    assert!(previews.draw(&id(1), area, &mut buf));
    previews.frame_done(&buf);
    assert!(previews.is_ready(&id(1)));
}

#[test]
fn a_panic_inside_a_decode_is_a_failure_and_the_flag_is_cleared() {
    assert!(!decoding());
    let out: Result<(), Refusal> = guarded(|| {
        assert!(decoding());
        panic!("a decoder's bug");
    });
    assert_eq!(out, Err(Refusal::Failed));
    assert!(!decoding());
    assert_eq!(guarded(|| Ok(7)), Ok(7));
}

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_string())
    }
}

#[test]
fn the_graphics_follow_the_terminals_answers() {
    let cell = CellPx {
        width: 9,
        height: 18,
    };
    let sized = Response::CellSize(Some((9, 18)));
    let kitty = [Response::Kitty, Response::Sixel, sized.clone()];
    let sixel = [Response::Sixel, sized.clone()];
    let plain: [Response; 0] = [];
    let none = env(&[]);
    assert_eq!(choose(Some(&kitty), &none, None), Graphics::Kitty(cell));
    assert_eq!(choose(Some(&sixel), &none, None), Graphics::Sixel(cell));
    // No answer in time, or no graphics: half-blocks.
    assert_eq!(choose(None, &none, Some(cell)), Graphics::Halfblocks);
    assert_eq!(
        choose(Some(&plain), &none, Some(cell)),
        Graphics::Halfblocks
    );
    // The cell size from the window when the terminal does not say it; none, half-blocks.
    assert_eq!(
        choose(Some(&[Response::Kitty]), &none, Some(cell)),
        Graphics::Kitty(cell)
    );
    assert_eq!(
        choose(Some(&[Response::Kitty]), &none, None),
        Graphics::Halfblocks
    );
    // An absurd cell size is not believed.
    let absurd = [Response::Kitty, Response::CellSize(Some((9000, 18)))];
    assert_eq!(choose(Some(&absurd), &none, None), Graphics::Halfblocks);
    // WezTerm and iTerm2 by name; Konsole never.
    let wezterm = env(&[("TERM_PROGRAM", "WezTerm")]);
    assert_eq!(choose(Some(&kitty), &wezterm, None), Graphics::Iterm2(cell));
    let iterm = env(&[("LC_TERMINAL", "iTerm2")]);
    assert_eq!(choose(Some(&sixel), &iterm, None), Graphics::Iterm2(cell));
    let konsole = env(&[("KONSOLE_VERSION", "230804")]);
    assert_eq!(choose(Some(&kitty), &konsole, None), Graphics::Halfblocks);
}

#[test]
fn the_setting_and_multiplexers_decide_before_the_terminal_is_asked() {
    // None of these write to or read from the terminal.
    let tmux = env(&[("TMUX", "/tmp/tmux-1000/default,1,0")]);
    assert_eq!(detect(PreviewMode::Auto, &tmux), Graphics::Halfblocks);
    let screen = env(&[("TERM", "screen-256color")]);
    assert_eq!(detect(PreviewMode::Auto, &screen), Graphics::Halfblocks);
    assert_eq!(detect(PreviewMode::Off, env(&[])), Graphics::Off);
    assert_eq!(
        detect(PreviewMode::Halfblocks, env(&[])),
        Graphics::Halfblocks
    );
    assert!(multiplexed(&env(&[("ZELLIJ", "0")])));
    assert!(!multiplexed(&env(&[("TERM", "xterm-kitty"), ("TMUX", "")])));
    // Under NO_COLOR, what is made of coloured cells goes.
    let cell = CellPx {
        width: 9,
        height: 18,
    };
    assert_eq!(Graphics::Halfblocks.without_color(), Graphics::Off);
    assert_eq!(Graphics::Kitty(cell).without_color(), Graphics::Off);
    assert_eq!(Graphics::Sixel(cell).without_color(), Graphics::Sixel(cell));
}

#[test]
fn a_cell_from_the_windows_pixels() {
    assert_eq!(
        cell_from_window(1600, 900, 160, 50),
        Some(CellPx {
            width: 10,
            height: 18
        })
    );
    // Terminals that do not fill in the pixels say 0.
    assert_eq!(cell_from_window(0, 0, 80, 24), None);
    assert_eq!(cell_from_window(1600, 900, 0, 0), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes at all: a picture or a refusal, never a panic.
    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode(&bytes);
    }

    /// A valid picture's opening followed by anything: the decoders get past the magic.
    #[test]
    fn random_bodies_behind_real_magic_never_panic(
        format in 0usize..5,
        tail in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let magic: [&[u8]; 5] = [
            b"\x89PNG\r\n\x1a\n",
            b"\xFF\xD8\xFF",
            b"GIF89a",
            b"RIFF\x00\x10\x00\x00WEBPVP8 ",
            b"BM",
        ];
        let bytes = [magic[format], &tail].concat();
        let _ = decode(&bytes);
    }

    /// A real small picture with bytes changed: damaged, never a panic; and what decodes
    /// is within the bounds.
    #[test]
    fn mutated_pictures_never_panic(
        format in 0usize..5,
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let format = FORMATS[format];
        let mut bytes = picture(12, 7, format, |x, y| [(x * 20) as u8, (y * 30) as u8, 77, 255]);
        for (at, value) in changes {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(image) = decode(&bytes) {
            prop_assert!(image.width() <= MAX_SIDE && image.height() <= MAX_SIDE);
        }
    }
}
