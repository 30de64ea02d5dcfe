// Checks the payload format's test vectors (docs/format.md §7) with the
// WebCrypto implementation of payload.mjs: every intermediate value, the
// plaintext, and that altered, cut or re-ordered ciphertexts are refused.
// Prints one JSON line per vector; exits non-zero on any failure.
//
//   node vectors.mjs VECTORS-DIR
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  associatedData, ciphertextSize, decrypt, fromBase64, parseHeader, segmentKeyBytes, sha256, toBase64url,
  SEGMENT_SIZE,
} from './payload.mjs';

const dir = process.argv[2];
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
if (files.length === 0) throw new Error(`no vectors in ${dir}`);

async function refuses(ciphertext, key, aad, what) {
  await assert.rejects(decrypt(ciphertext, key, aad), Error, what);
}

for (const f of files) {
  const v = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const m = v.manifest;
  const ct = new Uint8Array(readFileSync(join(dir, v.ciphertext.file)));
  const key = fromBase64(m.encryption.key);
  const aad = fromBase64(m.encryption.aad);

  assert.equal(m.v, 2);
  assert.equal(m.encryption.format, 'tink-streaming-aead');
  assert.equal(m.encryption.alg, 'AES256_GCM_HKDF_1MB');
  assert.equal(m.encryption.segment_size, SEGMENT_SIZE);
  assert.equal(m.encryption.hkdf_hash, 'SHA256');
  assert.equal(toBase64url(key), v.key);
  assert.deepEqual(aad, associatedData(m.exchange, m.agreement, m.recipient), 'the AAD rebuilt from the manifest');
  assert.equal(toBase64url(aad), v.aad);

  assert.equal(ct.length, v.ciphertext.size);
  assert.equal(ct.length, m.ciphertext.size);
  assert.equal(ct.length, ciphertextSize(v.plaintext.size));
  assert.equal(await sha256(ct), m.ciphertext.sha256);
  const { salt, noncePrefix } = parseHeader(ct);
  assert.equal(toBase64url(salt), v.salt);
  assert.equal(toBase64url(noncePrefix), v.nonce_prefix);
  assert.equal(toBase64url(await segmentKeyBytes(key, salt, aad)), v.segment_key);

  const seen = [];
  const plain = await decrypt(ct, key, aad, (s) => seen.push(s));
  assert.deepEqual(seen.map((s) => ({
    offset: s.offset, size: s.size, plaintext_size: s.size - 16, nonce: toBase64url(s.nonce), last: s.last,
  })), v.segments);
  assert.equal(plain.length, v.plaintext.size);
  assert.equal(await sha256(plain), v.plaintext.sha256);
  assert.equal(await sha256(plain), m.plaintext.sha256);
  for (let i = 0; i < plain.length; i++) if (plain[i] !== i % 251) assert.fail(`plaintext byte ${i}`);

  // Refused: any flipped byte, another key, another binding, a cut stream.
  const flipped = ct.slice();
  flipped[flipped.length - 1] ^= 1;
  await refuses(flipped, key, aad, 'a flipped tag byte');
  const header = ct.slice();
  header[5] ^= 1;
  await refuses(header, key, aad, 'a flipped salt byte');
  await refuses(ct, new Uint8Array(32), aad, 'another key');
  await refuses(ct, key, associatedData(m.exchange, m.agreement, 'dwp'), 'another recipient');
  await refuses(ct.subarray(0, ct.length - 1), key, aad, 'one byte short');
  if (v.segments.length > 1) {
    await refuses(ct.subarray(0, v.segments[1].offset), key, aad, 'cut at a segment boundary');
    const swapped = ct.slice();
    const a = v.segments[1];
    const b = v.segments[0];
    swapped.set(ct.subarray(a.offset, a.offset + b.size), b.offset);
    await refuses(swapped, key, aad, 'segments re-ordered');
  }
  process.stdout.write(JSON.stringify({ vector: v.name, segments: seen.length, plaintext: plain.length }) + '\n');
}
