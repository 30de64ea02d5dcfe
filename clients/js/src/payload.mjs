// The Gatehouse payload stream (docs/format.md §6) with WebCrypto: HKDF-SHA256
// for the segment key, AES-256-GCM per segment with nonce = prefix ||
// big-endian index || last flag, written from the document alone. The
// interoperability test (interop/vectors.mjs) holds it to the format's test
// vectors.

const { subtle } = globalThis.crypto;

export const SEGMENT_SIZE = 1 << 20;
export const HEADER_SIZE = 1 + 32 + 7;
export const TAG_SIZE = 16;
const FIRST_CT = SEGMENT_SIZE - HEADER_SIZE; // segment 0 shares the first MiB with the header

/** Decodes base64url with or without padding, and the standard alphabet of version 1 manifests. */
export function fromBase64(s) {
  const url = s.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_');
  if (!/^[A-Za-z0-9_-]*$/.test(url) || url.length % 4 === 1) throw new Error('not base64url');
  return new Uint8Array(Buffer.from(url, 'base64url'));
}

export function toBase64url(b) {
  return Buffer.from(b).toString('base64url');
}

export function hex(b) {
  return Buffer.from(b).toString('hex');
}

export async function sha256(b) {
  return hex(new Uint8Array(await subtle.digest('SHA-256', b)));
}

/** The associated data of docs/format.md §5. */
export function associatedData(exchange, agreement, recipient) {
  return new TextEncoder().encode(`gatehouse/payload/v1\0${exchange}\0${agreement}\0${recipient}`);
}

/** HKDF-SHA256(IKM = data key, salt, info = associated data, L = 32): the raw segment key. */
export async function segmentKeyBytes(dataKey, salt, aad) {
  const ikm = await subtle.importKey('raw', dataKey, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: aad }, ikm, 256));
}

/** The 12-byte nonce of segment index. */
export function segmentNonce(prefix, index, last) {
  const nonce = new Uint8Array(12);
  nonce.set(prefix, 0);
  new DataView(nonce.buffer).setUint32(7, index, false);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Reads the 40-byte header: its length byte, the salt and the nonce prefix. */
export function parseHeader(b) {
  if (b.length < HEADER_SIZE) throw new Error('ciphertext shorter than its header');
  if (b[0] !== HEADER_SIZE) throw new Error(`header length byte is ${b[0]}, not ${HEADER_SIZE}`);
  return { salt: b.slice(1, 33), noncePrefix: b.slice(33, HEADER_SIZE) };
}

/**
 * Decrypts a payload stream read from chunks (an async iterable of
 * Uint8Array), yielding each segment's plaintext once its tag verifies. A
 * segment is the last when the stream ends after it. Any failure throws: the
 * caller discards whatever it was given.
 */
export async function* decryptStream(chunks, dataKey, aad, onSegment) {
  if (dataKey.length !== 32) throw new Error('the data key must be 32 bytes');
  let buf = new Uint8Array(0);
  let key = null;
  let prefix = null;
  let index = 0;
  const append = (c) => {
    const next = new Uint8Array(buf.length + c.length);
    next.set(buf, 0);
    next.set(c, buf.length);
    buf = next;
  };
  const open = async (segment, last, offset) => {
    const nonce = segmentNonce(prefix, index, last);
    onSegment?.({ index, offset, size: segment.length, nonce, last });
    let plain;
    try {
      plain = new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: nonce, tagLength: 128 }, key, segment));
    } catch {
      throw new Error(`segment ${index} does not authenticate`);
    }
    index++;
    return plain;
  };
  let offset = 0;
  for await (const chunk of chunks) {
    append(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk));
    if (!key && buf.length >= HEADER_SIZE) {
      const h = parseHeader(buf);
      prefix = h.noncePrefix;
      key = await subtle.importKey('raw', await segmentKeyBytes(dataKey, h.salt, aad), 'AES-GCM', false, ['decrypt']);
      buf = buf.slice(HEADER_SIZE);
      offset = HEADER_SIZE;
    }
    // A segment is not the last while more ciphertext follows it.
    while (key) {
      const size = index === 0 ? FIRST_CT : SEGMENT_SIZE;
      if (buf.length <= size) break;
      const segment = buf.slice(0, size);
      buf = buf.slice(size);
      yield await open(segment, false, offset);
      offset += size;
    }
  }
  if (!key) throw new Error('ciphertext shorter than its header');
  if (buf.length < TAG_SIZE) throw new Error('last segment shorter than its tag');
  yield await open(buf, true, offset);
}

/** Decrypts a whole ciphertext held in memory. */
export async function decrypt(ciphertext, dataKey, aad, onSegment) {
  async function* one() {
    // Hand it over in uneven pieces, as a network would.
    for (let i = 0; i < ciphertext.length; i += 300007) yield ciphertext.subarray(i, i + 300007);
  }
  const parts = [];
  for await (const p of decryptStream(one(), dataKey, aad, onSegment)) parts.push(p);
  return Buffer.concat(parts);
}

/** The ciphertext size of a plaintext of n bytes (docs/format.md §6). */
export function ciphertextSize(n) {
  return HEADER_SIZE + n + TAG_SIZE * Math.max(1, Math.ceil((n + HEADER_SIZE) / (SEGMENT_SIZE - TAG_SIZE)));
}
