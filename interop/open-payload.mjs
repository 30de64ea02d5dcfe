// Opens a real exchange as a partner in another language would, from
// docs/format.md alone: panva/jose for the envelope (JWE, then the JWS
// verified with the JWKS key marked signs=manifests), WebCrypto for the
// payload stream (payload.mjs). Writes the plaintext to OUT only once every
// segment and the manifest's digests check; prints the manifest.
//
//   node open-payload.mjs ENVELOPE RECIPIENT.jwk GATEWAY-JWKS.json CIPHERTEXT OUT
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { compactDecrypt, compactVerify, createLocalJWKSet, importJWK } from 'jose';
import { associatedData, decryptStream, fromBase64, sha256 } from './payload.mjs';

const [envelopeFile, keyFile, jwksFile, ciphertextFile, outFile] = process.argv.slice(2);
const fail = (msg) => { throw new Error(msg); };

const recipient = JSON.parse(readFileSync(keyFile, 'utf8'));
const jwks = JSON.parse(readFileSync(jwksFile, 'utf8'));
const marked = jwks.keys.filter((k) => k.signs !== undefined);
const manifestKeys = { keys: marked.length ? marked.filter((k) => k.signs === 'manifests') : jwks.keys };

const { plaintext: signed, protectedHeader: jwe } = await compactDecrypt(
  readFileSync(envelopeFile, 'utf8').trim(), await importJWK(recipient, 'ECDH-ES+A256KW'),
  { keyManagementAlgorithms: ['ECDH-ES+A256KW'], contentEncryptionAlgorithms: ['A256GCM'] });
if (jwe.cty !== 'gatehouse-manifest+jws') fail(`envelope cty ${jwe.cty}`);
const { payload, protectedHeader: jws } = await compactVerify(
  new TextDecoder().decode(signed), createLocalJWKSet(manifestKeys), { algorithms: ['ES256'] });
if (jws.typ !== 'gatehouse-manifest+jws') fail(`signed object has typ ${jws.typ}`);
const m = JSON.parse(new TextDecoder().decode(payload));

if (m.v !== 1 && m.v !== 2) fail(`manifest version ${m.v}`);
const e = m.encryption;
if (e.format !== 'tink-streaming-aead' || e.alg !== 'AES256_GCM_HKDF_1MB' || e.segment_size !== 1048576 || e.hkdf_hash !== 'SHA256') {
  fail(`unsupported payload encryption ${e.format}/${e.alg}`);
}
const key = fromBase64(e.key);
const aad = fromBase64(e.aad);
if (Buffer.compare(aad, associatedData(m.exchange, m.agreement, m.recipient)) !== 0) fail('the manifest\'s aad is not its exchange, agreement and recipient');

const ciphertext = readFileSync(ciphertextFile);
if (ciphertext.length !== m.ciphertext.size) fail(`ciphertext is ${ciphertext.length} bytes, manifest says ${m.ciphertext.size}`);
if (m.v >= 2 && await sha256(ciphertext) !== m.ciphertext.sha256) fail('ciphertext SHA-256 differs from the manifest');

const parts = [];
let segments = 0;
for await (const p of decryptStream(createReadStream(ciphertextFile), key, aad, () => segments++)) parts.push(p);
key.fill(0);
const plain = Buffer.concat(parts);
if (plain.length !== m.plaintext.size) fail(`plaintext is ${plain.length} bytes, manifest says ${m.plaintext.size}`);
if (await sha256(plain) !== m.plaintext.sha256) fail('plaintext SHA-256 differs from the manifest');
writeFileSync(outFile, plain, { mode: 0o600 });
delete m.encryption.key;
process.stdout.write(JSON.stringify({ jwe, jws, segments, manifest: m }));
