//! Framing: a 4-byte big-endian length, then the payload. A length above the limit is
//! refused before anything is allocated.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Error, MAX_FRAME, Result};

/// Reads a frame's length, refusing more than `max` (nothing is allocated).
pub(crate) async fn read_len(stream: &mut (impl AsyncReadExt + Unpin), max: usize) -> Result<usize> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(|e| Error::Connection(format!("read: {e}")))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(Error::Connection(format!("frame of {len} bytes exceeds {max}")));
    }
    Ok(len)
}

pub(crate) async fn read_body(stream: &mut (impl AsyncReadExt + Unpin), len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.map_err(|e| Error::Connection(format!("read: {e}")))?;
    Ok(buf)
}

/// Reads one frame of at most `max` bytes.
pub(crate) async fn read_frame_within(stream: &mut (impl AsyncReadExt + Unpin), max: usize) -> Result<Vec<u8>> {
    let len = read_len(stream, max).await?;
    read_body(stream, len).await
}

/// Reads one frame (at most [`MAX_FRAME`] bytes).
pub async fn read_frame(stream: &mut (impl AsyncReadExt + Unpin)) -> Result<Vec<u8>> {
    read_frame_within(stream, MAX_FRAME).await
}

/// Writes one frame.
pub async fn write_frame(stream: &mut (impl AsyncWriteExt + Unpin), payload: &[u8]) -> Result<()> {
    let len = u32::try_from(payload.len()).ok().filter(|l| (*l as usize) <= MAX_FRAME);
    let len = len.ok_or_else(|| Error::Connection(format!("frame of {} bytes exceeds {MAX_FRAME}", payload.len())))?;
    stream.write_all(&len.to_be_bytes()).await.map_err(|e| Error::Connection(format!("write: {e}")))?;
    stream.write_all(payload).await.map_err(|e| Error::Connection(format!("write: {e}")))?;
    Ok(())
}
