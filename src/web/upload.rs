//! Reading browser uploads (multipart/form-data) within the size limit.

use super::AppError;
use actix_multipart::Multipart;
use futures_util::StreamExt;

pub struct UploadedFile {
    pub field: String,
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

pub struct Upload {
    /// The form's `csrf_token` field.
    pub csrf_token: String,
    /// Every non-empty file part, in order.
    pub files: Vec<UploadedFile>,
}

/// Reads the whole form; refuses with 413 as soon as the parts exceed `limit` bytes.
pub async fn read(mut body: Multipart, limit: usize) -> Result<Upload, AppError> {
    let mut up = Upload {
        csrf_token: String::new(),
        files: Vec::new(),
    };
    let mut total = 0usize;
    while let Some(field) = body.next().await {
        let mut field = field.map_err(|e| {
            AppError::BadRequest(crate::i18n::Msg::new("error.upload").with("detail", e))
        })?;
        let name = field.name().unwrap_or("").to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(crate::mail::parse::sanitize_filename))
            .filter(|n| !n.is_empty());
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::BadRequest(crate::i18n::Msg::new("error.upload").with("detail", e))
            })?;
            total += chunk.len();
            if total > limit {
                return Err(AppError::TooLarge);
            }
            data.extend_from_slice(&chunk);
        }
        if name == "csrf_token" {
            up.csrf_token = String::from_utf8_lossy(&data).into_owned();
        } else if !data.is_empty() {
            up.files.push(UploadedFile {
                field: name,
                filename: filename.unwrap_or_else(|| "upload.bin".into()),
                content_type,
                data,
            });
        }
    }
    Ok(up)
}
