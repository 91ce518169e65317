//! Thumbnails of image attachments (screenshots of error dialogs), made once on first
//! view and kept: the image is decoded within limits (no decompression bomb), scaled to
//! fit [`MAX_SIDE`], and written as a new PNG from its pixels, so EXIF and any other
//! metadata of the original are gone. Only raster images are read (never SVG).

use super::stored::{of_case, ReadError};
use crate::db::schema::thumbnails;
use crate::db::DbConn;
use crate::db::Direct;
use crate::storage::BlobStore;
use diesel::prelude::*;
use std::io::Cursor;

/// The longest side of a thumbnail, in pixels.
pub const MAX_SIDE: u32 = 240;
/// Images larger than this (either side, in pixels) are not decoded.
const MAX_DIMENSION: u32 = 12_000;
/// Memory a decode may allocate at most.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// Not a raster image we read, or one we refuse (too large, damaged).
    #[error("not an image that can be shown: {0}")]
    NotAnImage(String),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// A PNG thumbnail of the raster image `bytes`, with its width and height.
pub fn make(bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), ThumbError> {
    if crate::mail::html::raster_type(bytes).is_none() {
        return Err(ThumbError::NotAnImage(
            "not a PNG, JPEG, GIF, WebP or BMP".into(),
        ));
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ThumbError::NotAnImage(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| ThumbError::NotAnImage(e.to_string()))?;
    let thumb = if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
        img.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        img
    };
    let mut out = Vec::new();
    thumb
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| ThumbError::NotAnImage(e.to_string()))?;
    Ok((out, thumb.width(), thumb.height()))
}

/// The thumbnail of attachment `id` of case `number` (PNG bytes): the stored one, or
/// made now from the attachment and stored for the next time.
pub fn get_or_make(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    number: &str,
    id: i64,
) -> Result<Vec<u8>, ThumbError> {
    let att = of_case(conn, number, id).map_err(|e| match e {
        diesel::result::Error::NotFound => ThumbError::Read(ReadError::NotFound),
        other => ThumbError::Db(other),
    })?;
    let stored: Option<String> = thumbnails::table
        .find(id)
        .select(thumbnails::sha256)
        .first_row(conn)
        .optional()?;
    if let Some(sha) = stored {
        if let Ok(bytes) = store.get(&sha) {
            return Ok(bytes);
        }
    }
    let original = store.get(&att.sha256)?;
    let (png, w, h) = make(&original)?;
    let sha = store.put(&png)?;
    // Two first views at once make the same bytes; the first row stays and the second
    // insert fails on the primary key, which changes nothing.
    let inserted = diesel::insert_into(thumbnails::table)
        .values((
            thumbnails::attachment_id.eq(id),
            thumbnails::sha256.eq(&sha),
            thumbnails::width.eq(i64::from(w)),
            thumbnails::height.eq(i64::from(h)),
        ))
        .exec(conn);
    if let Err(e) = inserted {
        tracing::warn!(error = %e, attachment = id, "thumbnail not recorded; made again next time");
    }
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("png");
        out
    }

    #[test]
    fn a_large_screenshot_is_scaled_to_fit_and_a_small_one_kept() {
        let (t, w, h) = make(&png(1200, 800)).expect("thumbnail");
        assert_eq!((w, h), (240, 160));
        assert!(t.starts_with(b"\x89PNG"));
        let (_, w, h) = make(&png(100, 50)).expect("thumbnail");
        assert_eq!((w, h), (100, 50));
    }

    #[test]
    fn exif_of_a_photo_is_dropped() {
        let img = image::RgbImage::from_pixel(400, 300, image::Rgb([10, 20, 30]));
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .expect("jpeg");
        // An APP1 Exif segment right after SOI, with a GPS-looking payload.
        let payload = b"Exif\0\0MM\0*\0\0\0\x08GPS 31.2304N 121.4737E";
        let mut with_exif = vec![0xFF, 0xD8, 0xFF, 0xE1];
        with_exif.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        with_exif.extend_from_slice(payload);
        with_exif.extend_from_slice(&jpeg[2..]);
        let (t, _, _) = make(&with_exif).expect("thumbnail");
        let has = |needle: &[u8]| t.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"Exif") && !has(b"GPS"), "metadata survived");
    }

    #[test]
    fn svg_html_and_bombs_are_refused() {
        assert!(make(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>").is_err());
        assert!(make(b"<html><script>").is_err());
        // Wider than any screenshot: refused by the decoder's limits before decoding.
        let wide = png(MAX_DIMENSION + 1, 1);
        assert!(matches!(make(&wide), Err(ThumbError::NotAnImage(_))));
        assert!(make(&png(MAX_DIMENSION, 1)).is_ok());
    }
}
